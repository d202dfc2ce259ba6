-- What Microsoft 365 last said about a domain's federation: the issuer it federates with, or
-- why the last federation change did not happen (JSON: reason and Graph's error).
ALTER TABLE domains ADD COLUMN issuer_uri text;
ALTER TABLE domains ADD COLUMN federation_error text;
