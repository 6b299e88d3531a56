module example.com/upstreamguest

go 1.24

require github.com/gadgetkit/ig/sdk/go v0.1.0
