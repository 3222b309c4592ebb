ALTER TABLE connections DROP COLUMN draft;
