module github.com/gadgetkit/ig/gadgets/trace_exec/go

go 1.24

require github.com/gadgetkit/ig/sdk/go v0.0.0
