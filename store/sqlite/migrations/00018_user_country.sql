-- A user's country (ISO 3166-1 alpha-2, upper case; '' for none): the country whose
-- national phone numbers the user's are, when one is given without its country code.
-- lifecycle.defaultCountry is every other user's. An emfa from before this migration
-- writes the profile row without naming the column, so it leaves the country as it was.

-- +goose Up
ALTER TABLE user_profiles ADD COLUMN country TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE user_profiles DROP COLUMN country;
