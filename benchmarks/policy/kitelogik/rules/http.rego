# HTTP rules (9 rules). Consulted only for tools of kind "http".
package kitelogik.bench.rules.http

import rego.v1

c := data.kitelogik.bench.lib.cfg.http

url := data.kitelogik.bench.lib.str_arg("url")

deny contains data.kitelogik.bench.lib.v("http.no_host", "http tools need a resolved host") if count(data.kitelogik.bench.lib.hosts) == 0

deny contains data.kitelogik.bench.lib.v("http.https_only", "only https URLs are allowed") if {
	is_string(url)
	not startswith(lower(url), "https://")
}

deny contains data.kitelogik.bench.lib.v("http.blocked_host", sprintf("host '%s' is blocked", [h])) if {
	some h in data.kitelogik.bench.lib.hosts
	h in c.blocked_hosts
}

deny contains data.kitelogik.bench.lib.v("http.blocked_domain", sprintf("host '%s' is in a blocked domain", [h])) if {
	some h in data.kitelogik.bench.lib.hosts
	some s in c.blocked_suffixes
	endswith(h, concat("", [".", s]))
}

deny contains data.kitelogik.bench.lib.v("http.private_ip", sprintf("host '%s' is a private address", [h])) if {
	some h in data.kitelogik.bench.lib.hosts
	regex.match(`^[0-9]{1,3}(\.[0-9]{1,3}){3}$`, h)
	some cidr in c.private_cidrs
	net.cidr_contains(cidr, h)
}

deny contains data.kitelogik.bench.lib.v("http.localhost", "localhost is not reachable from agents") if "localhost" in data.kitelogik.bench.lib.hosts

deny contains data.kitelogik.bench.lib.v("http.credentials_in_url", "URLs may not carry credentials") if {
	is_string(url)
	regex.match(`^[a-z]+://[^/]*@`, lower(url))
}

deny contains data.kitelogik.bench.lib.v("http.body_too_large", "request body exceeds the limit") if {
	data.kitelogik.bench.lib.tool.op == "write"
	body := data.kitelogik.bench.lib.str_arg("body")
	count(body) > c.max_body_bytes
}

requires_hitl contains data.kitelogik.bench.lib.v("http.post_needs_approval", "outbound POSTs need a human") if data.kitelogik.bench.lib.tool.op == "write"
