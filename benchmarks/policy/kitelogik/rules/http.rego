# HTTP rules (9 rules). Consulted only for tools of kind "http".
package kitelogik.bench.rules.http

import rego.v1

import data.kitelogik.bench.lib

c := lib.cfg.http

url := lib.str_arg("url")

deny contains lib.v("http.no_host", "http tools need a resolved host") if count(lib.hosts) == 0

deny contains lib.v("http.https_only", "only https URLs are allowed") if {
	is_string(url)
	not startswith(lower(url), "https://")
}

deny contains lib.v("http.blocked_host", sprintf("host '%s' is blocked", [h])) if {
	some h in lib.hosts
	h in c.blocked_hosts
}

deny contains lib.v("http.blocked_domain", sprintf("host '%s' is in a blocked domain", [h])) if {
	some h in lib.hosts
	some s in c.blocked_suffixes
	endswith(h, concat("", [".", s]))
}

deny contains lib.v("http.private_ip", sprintf("host '%s' is a private address", [h])) if {
	some h in lib.hosts
	regex.match(`^[0-9]{1,3}(\.[0-9]{1,3}){3}$`, h)
	some cidr in c.private_cidrs
	net.cidr_contains(cidr, h)
}

deny contains lib.v("http.localhost", "localhost is not reachable from agents") if "localhost" in lib.hosts

deny contains lib.v("http.credentials_in_url", "URLs may not carry credentials") if {
	is_string(url)
	regex.match(`^[a-z]+://[^/]*@`, lower(url))
}

deny contains lib.v("http.body_too_large", "request body exceeds the limit") if {
	lib.tool.op == "write"
	body := lib.str_arg("body")
	count(body) > c.max_body_bytes
}

requires_hitl contains lib.v("http.post_needs_approval", "outbound POSTs need a human") if lib.tool.op == "write"
