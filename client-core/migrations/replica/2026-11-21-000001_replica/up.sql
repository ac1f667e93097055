-- The replica: what the server says this device may see, row by row as JSON, at `cursor`.
-- Disposable: deleting it only costs a re-download.
CREATE TABLE rows (
    entity   TEXT NOT NULL,
    id       TEXT NOT NULL,
    version  INTEGER NOT NULL,
    data     TEXT NOT NULL,
    PRIMARY KEY (entity, id)
) WITHOUT ROWID;
CREATE INDEX rows_by_family ON rows (entity, json_extract(data, '$.family_id'));
CREATE INDEX rows_by_class ON rows (entity, json_extract(data, '$.class_id'));
CREATE INDEX rows_by_student ON rows (entity, json_extract(data, '$.student_id'));
CREATE INDEX rows_by_register ON rows (entity, json_extract(data, '$.register_id'));

-- Pages of a pull in progress; applied with the cursor in one transaction at the end.
CREATE TABLE staging (
    entity   TEXT NOT NULL,
    id       TEXT NOT NULL,
    version  INTEGER NOT NULL,
    deleted  INTEGER NOT NULL,
    data     TEXT,
    PRIMARY KEY (entity, id)
) WITHOUT ROWID;

CREATE TABLE meta (
    key    TEXT PRIMARY KEY NOT NULL,
    value  TEXT NOT NULL
);
