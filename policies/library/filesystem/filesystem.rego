# Starter library: filesystem. Protects secrets and source-control internals from agent writes
# and reads, on top of the global tier's path rules (which already confine paths and block
# /etc, /proc, ~/.ssh ...). Paths are the canonical resource.paths the gate derives.
#
# INERT until a project uses it (see policies/library/README.md):
#     deny contains d if some d in data.kitelogik.library.filesystem.deny
package kitelogik.library.filesystem

import rego.v1

defaults := {
	"write_tools": ["write_file", "delete_file", "move_file", "append_file"],
	"secret_suffixes": [".env", ".pem", ".key", ".p12", ".pfx", "id_rsa", "id_ed25519", ".kube/config"],
	"protected_segments": [".git", ".kitelogik"],
	"readonly_prefixes": [],
}

settings := object.union(defaults, s) if {
	s := object.get(data.kitelogik.project.library_settings, "filesystem", null)
	is_object(s)
} else := defaults

paths contains p if {
	ps := object.get(data.kitelogik.global.lib.inp, ["resource", "paths"], [])
	is_array(ps) # `some .. in` over null/a number: OPA is undefined, regorus raises
	some p in ps
	is_string(p)
}

writes if input.action in settings.write_tools

deny contains {"rule": "library.filesystem.secret_file", "reason": sprintf("access to a secret file is not allowed: %s", [p])} if {
	some p in paths
	some s in settings.secret_suffixes
	endswith(p, s)
}

deny contains {"rule": "library.filesystem.protected_dir", "reason": sprintf("agents may not modify %s", [p])} if {
	writes
	some p in paths
	some seg in split(p, "/")
	seg in settings.protected_segments
}

deny contains {"rule": "library.filesystem.readonly", "reason": sprintf("%s is read-only for agents", [p])} if {
	writes
	some p in paths
	some prefix in settings.readonly_prefixes
	startswith(p, prefix)
}

# Deleting more than one path in one call needs a human.
requires_hitl contains {"rule": "library.filesystem.bulk_delete", "reason": "deleting several files at once needs a human"} if {
	input.action == "delete_file"
	count(paths) > 1
}
