# Starter library: MCP tools. Tools named mcp__<server>__<tool> (the convention of most MCP
# clients) or declared with tool.labels.mcp_server are callable only from allow-listed servers,
# and tools a server marks destructive wait for a human.
#
# INERT until a project uses it (see policies/library/README.md).
package kitelogik.library.mcp

import rego.v1

defaults := {
	"allowed_servers": [],
	"blocked_tools": [],
}

settings := object.union(defaults, s) if {
	s := object.get(data.kitelogik.project.library_settings, "mcp", null)
	is_object(s)
} else := defaults

labels := l if {
	l := input.tool.labels
	is_object(l)
} else := {}

server := s if {
	s := labels.mcp_server
	is_string(s)
} else := parts[1] if {
	startswith(input.action, "mcp__")
	parts := split(input.action, "__")
	count(parts) >= 3
} else := null

mcp_call if {
	input.event_type == "tool_call"
	server != null
}

deny contains {"rule": "library.mcp.server_not_allowed", "reason": sprintf("MCP server '%s' is not on the allow list", [server])} if {
	mcp_call
	not server in settings.allowed_servers
}

deny contains {"rule": "library.mcp.tool_blocked", "reason": sprintf("MCP tool %s is blocked", [input.action])} if {
	mcp_call
	input.action in settings.blocked_tools
}

# An unparseable mcp__ name cannot be attributed to a server: deny.
deny contains {"rule": "library.mcp.malformed_name", "reason": "MCP tool names must be mcp__<server>__<tool>"} if {
	input.event_type == "tool_call"
	is_string(input.action)
	startswith(input.action, "mcp__")
	count(split(input.action, "__")) < 3
}

requires_hitl contains {"rule": "library.mcp.destructive_hint", "reason": "the MCP server marks this tool destructive"} if {
	mcp_call
	labels.destructive_hint == true
}
