module example.com/wasmconfig

go 1.24

require github.com/gadgetkit/ig/sdk/go v0.0.0
