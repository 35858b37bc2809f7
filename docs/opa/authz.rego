# OPA's own API authorization (--authorization=basic): who may call this OPA at all.
#
# Built into the Kite Logik bundle by build-bundle.sh. Every request must carry the bearer token
# OPA was started with (environment variable KITELOGIK_OPA_TOKEN; OPA's --authentication=token
# puts the presented token in input.identity). Only health probes are open, and only decision
# queries are allowed: nobody can read or replace policies or data through the API.
package system.authz

import rego.v1

default allow := false

token := opa.runtime().env.KITELOGIK_OPA_TOKEN

allow if {
	is_string(token)
	count(token) >= 16
	input.identity == token
	input.method == "POST"
	input.path[0] == "v1"
	input.path[1] == "data"
	input.path[2] == "kitelogik"
}

allow if {
	input.method == "GET"
	input.path == ["health"]
}
