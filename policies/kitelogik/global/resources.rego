# Path and host rules over resource.paths / resource.hosts (canonical values from the gate's
# canonicalizer: absolute normalized paths, lowercased IDNA-decoded hosts).
#
# Consulted for tool_call, plan (the plan's own resource and each step's `resource`, if a step
# carries one), resource.use and data.access.
#
# Matching is done with plain prefix / segment / suffix comparisons rather than glob patterns, so
# both engines (OPA and regorus) decide identically and no pattern subtleties (`**`, delimiters)
# can open a hole. net.cidr_contains is only ever called on a strict dotted-quad IPv4 literal, so it
# cannot raise on odd host strings.
package kitelogik.global.resources

import rego.v1

paths_cfg := data.kitelogik.global.lib.cfg.paths

hosts_cfg := data.kitelogik.global.lib.cfg.hosts

# Workspace roots: the project tier may set `workspace_roots` (an array of absolute prefixes) to
# confine file access; otherwise data.kitelogik.config.paths.workspace_roots (empty = no
# confinement). Setting roots can only narrow what is allowed.
# (Read through a comprehension: it is always defined, also when no project tier is loaded.)
project_roots := [r |
	some rs in [x | x := data.kitelogik.project.workspace_roots; is_array(x)]
	some r in rs
	is_string(r)
]

workspace_roots := project_roots if count(project_roots) > 0

else := paths_cfg.workspace_roots

# Paths ----------------------------------------------------------------------------------------

under(path, prefix) if path == prefix

under(path, prefix) if startswith(path, concat("", [trim_suffix(prefix, "/"), "/"]))

absolute(p) if startswith(p, "/")

# A Windows drive path in forward-slash form, e.g. C:/work/file.txt.
absolute(p) if regex.match(`^[A-Za-z]:/`, p)

canonical(p) if {
	absolute(p)
	not contains(p, "//")
	not contains(p, "/./")
	not contains(p, "/../")
	not endswith(p, "/..")
	not endswith(p, "/.")
	not contains(p, "\\")
	not contains(p, "\u0000")
}

deny contains v if {
	some s in data.kitelogik.global.lib.resource_subjects
	some p in s.paths
	not canonical(p)
	v := data.kitelogik.global.lib.violation(s, "global.paths.not_canonical", sprintf("path '%s' is not an absolute canonical path", [p]))
}

deny contains v if {
	some s in data.kitelogik.global.lib.resource_subjects
	some p in s.paths
	some prefix in paths_cfg.denied_prefixes
	under(p, prefix)
	v := data.kitelogik.global.lib.violation(s, "global.paths.denied_prefix", sprintf("path '%s' is under the protected location '%s'", [p, prefix]))
}

deny contains v if {
	some s in data.kitelogik.global.lib.resource_subjects
	some p in s.paths
	some seg in split(p, "/")
	seg in paths_cfg.denied_segments
	v := data.kitelogik.global.lib.violation(s, "global.paths.secret_directory", sprintf("path '%s' is inside a credentials directory '%s'", [p, seg]))
}

deny contains v if {
	count(workspace_roots) > 0
	some s in data.kitelogik.global.lib.resource_subjects
	some p in s.paths
	not in_workspace(p)
	v := data.kitelogik.global.lib.violation(s, "global.paths.outside_workspace", sprintf("path '%s' is outside the workspace", [p]))
}

in_workspace(p) if {
	some root in workspace_roots
	is_string(root)
	under(p, root)
}

# Hosts ----------------------------------------------------------------------------------------

# A host may arrive as host:port; the port is ignored. Bracketed or bare IPv6 literals are denied.
host_name(h) := split(h, ":")[0] if has_port(h)

host_name(h) := h if not has_port(h)

has_port(h) if regex.match(`^[^:\[\]]+:[0-9]{1,5}$`, h)

ipv4_re := `^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$`

is_ipv4(h) if regex.match(ipv4_re, h)

# Numeric forms some resolvers accept (2130706433, 0x7f.1, 017.0.0.1) that are not a plain
# dotted quad: refused, since they can hide a private address.
ambiguous_numeric(h) if {
	not is_ipv4(h)
	labels := split(h, ".")
	last := labels[count(labels) - 1]
	regex.match(`^(0x[0-9a-f]*|[0-9]+)$`, last)
}

deny contains v if {
	some s in data.kitelogik.global.lib.resource_subjects
	some raw in s.hosts
	h := host_name(raw)
	h in hosts_cfg.blocked
	v := data.kitelogik.global.lib.violation(s, "global.hosts.blocked", sprintf("host '%s' is blocked", [h]))
}

deny contains v if {
	some s in data.kitelogik.global.lib.resource_subjects
	some raw in s.hosts
	h := host_name(raw)
	some suffix in hosts_cfg.blocked_suffixes
	endswith(h, concat("", [".", suffix]))
	v := data.kitelogik.global.lib.violation(s, "global.hosts.blocked", sprintf("host '%s' is in the blocked domain '%s'", [h, suffix]))
}

deny contains v if {
	some s in data.kitelogik.global.lib.resource_subjects
	some raw in s.hosts
	h := host_name(raw)
	is_ipv4(h)
	some cidr in hosts_cfg.private_cidrs
	net.cidr_contains(cidr, h)
	v := data.kitelogik.global.lib.violation(s, "global.hosts.private_address", sprintf("host '%s' is a private, loopback, link-local or reserved address (%s)", [h, cidr]))
}

deny contains v if {
	some s in data.kitelogik.global.lib.resource_subjects
	some raw in s.hosts
	h := host_name(raw)
	contains(h, ":")
	v := data.kitelogik.global.lib.violation(s, "global.hosts.ipv6_literal", sprintf("host '%s' is an IPv6 literal; IPv6 literals are not allowed", [h]))
}

deny contains v if {
	some s in data.kitelogik.global.lib.resource_subjects
	some raw in s.hosts
	h := host_name(raw)
	ambiguous_numeric(h)
	v := data.kitelogik.global.lib.violation(s, "global.hosts.ambiguous_numeric", sprintf("host '%s' is a numeric form that is not a plain IPv4 address", [h]))
}

deny contains v if {
	some s in data.kitelogik.global.lib.resource_subjects
	some raw in s.hosts
	host_name(raw) == ""
	v := data.kitelogik.global.lib.violation(s, "global.hosts.empty", "an empty host name is not allowed")
}
