module github.com/stripesync/stripesync/services/syncer

go 1.26.0
