-- A user's SCIM externalId (the attribute scim.externalId), indexed: Okta and Entra ID look
-- a user up by it (GET /Users?filter=externalId eq "…") before each create or update,
-- and without the index each lookup read every user. ExternalIDOf names the expression.

-- +goose Up
CREATE INDEX user_profiles_external_id ON user_profiles ((attributes ->> 'scim.externalId'));

-- +goose Down
DROP INDEX user_profiles_external_id;
