"""The source tables Debezium captures: videos, users, comments.

Shaped like a video site's tables. Every row carries ``version`` (1 on insert,
+1 on each update) so each committed change has an identity the checker can
find in the change events: (table, id, op, version). ``REPLICA IDENTITY
FULL`` makes PostgreSQL log the whole old row, so update and delete events
carry a complete ``before`` image (the default logs only the primary key).
"""

from __future__ import annotations

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS users (
    id          bigserial PRIMARY KEY,
    username    text        NOT NULL,
    email       text        NOT NULL,
    country     char(2)     NOT NULL DEFAULT 'US',
    created_at  timestamptz NOT NULL DEFAULT now(),
    version     integer     NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS videos (
    id               bigserial PRIMARY KEY,
    owner_id         bigint      NOT NULL,
    title            text        NOT NULL,
    description      text        NOT NULL DEFAULT '',
    duration_seconds integer     NOT NULL,
    view_count       bigint      NOT NULL DEFAULT 0,
    published_at     timestamptz NOT NULL DEFAULT now(),
    version          integer     NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS comments (
    id          bigserial PRIMARY KEY,
    video_id    bigint      NOT NULL,
    user_id     bigint      NOT NULL,
    body        text        NOT NULL,
    likes       integer     NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    version     integer     NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS comments_video_id ON comments (video_id);
ALTER TABLE users REPLICA IDENTITY FULL;
ALTER TABLE videos REPLICA IDENTITY FULL;
ALTER TABLE comments REPLICA IDENTITY FULL;
"""

# Empty the tables and restart their ids (a fresh data set for a run).
TRUNCATE_SQL = "TRUNCATE users, videos, comments RESTART IDENTITY"

# The share of rows per table in a bulk load (sums to 1).
LOAD_SHARES = {"users": 0.1, "videos": 0.3, "comments": 0.6}
