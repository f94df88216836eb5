-- A user's e-mail address and display name, folded as store.FoldText folds them (ASCII
-- case, the Kelvin sign and the long s), indexed: Entra ID and Okta look a user up by
-- either (GET /Users?filter=emails[type eq "work"].value eq "…", displayName eq "…"),
-- case-insensitively, and without the indexes each lookup read every user. FoldedOf
-- names the expression.

-- +goose Up
CREATE INDEX user_profiles_email_folded ON user_profiles (lower(replace(replace(email, 'K', 'k'), 'ſ', 's') COLLATE "C"));
CREATE INDEX user_profiles_display_name_folded ON user_profiles (lower(replace(replace(display_name, 'K', 'k'), 'ſ', 's') COLLATE "C"));

-- +goose Down
DROP INDEX user_profiles_display_name_folded;
DROP INDEX user_profiles_email_folded;
