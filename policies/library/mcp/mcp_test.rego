package kitelogik.library.mcp_test

import rego.v1

import data.kitelogik.library.mcp

call(action, tool) := {"event_type": "tool_call", "action": action, "tool": tool}

allowed := {"mcp": {"allowed_servers": ["github"], "blocked_tools": ["mcp__github__delete_repo"]}}

test_allowed_server if {
	count(mcp.deny) == 0 with input as call("mcp__github__list_issues", null) with data.kitelogik.project.library_settings as allowed
}

test_unknown_server if {
	{d.rule | some d in mcp.deny} == {"library.mcp.server_not_allowed"} with input as call("mcp__evil__exec", null) with data.kitelogik.project.library_settings as allowed
}

test_label_server if {
	count(mcp.deny) == 1 with input as call("exec", {"labels": {"mcp_server": "evil"}}) with data.kitelogik.project.library_settings as allowed
}

test_blocked_tool if {
	{d.rule | some d in mcp.deny} == {"library.mcp.tool_blocked"} with input as call("mcp__github__delete_repo", null) with data.kitelogik.project.library_settings as allowed
}

test_malformed_name if {
	{d.rule | some d in mcp.deny} == {"library.mcp.malformed_name"} with input as call("mcp__x", null)
}

test_destructive_hint if {
	count(mcp.requires_hitl) == 1 with input as call("mcp__github__merge", {"labels": {"destructive_hint": true}}) with data.kitelogik.project.library_settings as allowed
}

test_non_mcp_untouched if {
	count(mcp.deny) == 0 with input as call("read_file", null)
}
