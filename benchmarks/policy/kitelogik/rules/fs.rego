# File-system rules (11 rules). Consulted only for tools of kind "fs".
package kitelogik.bench.rules.fs

import rego.v1

c := data.kitelogik.bench.lib.cfg.fs

under(p, prefix) if p == prefix

under(p, prefix) if startswith(p, concat("", [prefix, "/"]))

deny contains data.kitelogik.bench.lib.v("fs.no_path", "file tools need at least one resolved path") if count(data.kitelogik.bench.lib.paths) == 0

deny contains data.kitelogik.bench.lib.v("fs.relative", sprintf("path '%s' is not absolute", [p])) if {
	some p in data.kitelogik.bench.lib.paths
	not startswith(p, "/")
}

deny contains data.kitelogik.bench.lib.v("fs.traversal", sprintf("path '%s' is not canonical", [p])) if {
	some p in data.kitelogik.bench.lib.paths
	contains(p, "/../")
}

deny contains data.kitelogik.bench.lib.v("fs.protected", sprintf("path '%s' is under '%s'", [p, prefix])) if {
	some p in data.kitelogik.bench.lib.paths
	some prefix in c.denied_prefixes
	under(p, prefix)
}

deny contains data.kitelogik.bench.lib.v("fs.secret_dir", sprintf("path '%s' is in a credentials directory", [p])) if {
	some p in data.kitelogik.bench.lib.paths
	some seg in split(p, "/")
	seg in c.secret_segments
}

deny contains data.kitelogik.bench.lib.v("fs.secret_file", sprintf("path '%s' looks like a key file", [p])) if {
	some p in data.kitelogik.bench.lib.paths
	some s in c.secret_suffixes
	endswith(p, s)
}

deny contains data.kitelogik.bench.lib.v("fs.env_file", sprintf("path '%s' is an environment file", [p])) if {
	some p in data.kitelogik.bench.lib.paths
	regex.match(`(^|/)\.env(\.[a-z]+)?$`, p)
}

deny contains data.kitelogik.bench.lib.v("fs.write_outside_workspace", sprintf("writes must stay in %s", [c.workspace])) if {
	data.kitelogik.bench.lib.tool.op in {"write", "delete"}
	some p in data.kitelogik.bench.lib.paths
	not under(p, c.workspace)
}

deny contains data.kitelogik.bench.lib.v("fs.write_too_large", "content is larger than the write limit") if {
	data.kitelogik.bench.lib.tool.op == "write"
	content := data.kitelogik.bench.lib.str_arg("content")
	count(content) > c.max_write_bytes
}

deny contains data.kitelogik.bench.lib.v("fs.delete_workspace_root", "the workspace root may not be deleted") if {
	data.kitelogik.bench.lib.tool.op == "delete"
	some p in data.kitelogik.bench.lib.paths
	p == c.workspace
}

requires_hitl contains data.kitelogik.bench.lib.v("fs.delete_needs_approval", "deleting files needs a human") if data.kitelogik.bench.lib.tool.op == "delete"
