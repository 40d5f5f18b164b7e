module github.com/stripesync/stripesync/pkg/stack

go 1.26.0
