-- Notes can be pinned: a column with a default, so existing rows stay valid.
ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;
