-- The adapter kit (migrations/adapter) brings its own `callbacks` table: the old one steps aside
-- until 20261130000100 moves its rows over.
ALTER TABLE callbacks RENAME TO callbacks_before_kit;
