module github.com/stripesync/stripesync/services/ingest

go 1.26.0
