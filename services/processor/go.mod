module github.com/stripesync/stripesync/services/processor

go 1.26.0
