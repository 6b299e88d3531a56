module github.com/gadgetkit/ig/sdk/go

go 1.24
