package kitelogik.global.tools_test

import rego.v1

import data.kitelogik.global.fixtures_test as fx
import data.kitelogik.main

none := {"paths": [], "hosts": []}

test_operational_allowed if {
	d := main.decision with input as fx.call("write_file", none)
	fx.verdict(d) == "allow"
	d.risk_tier == "operational"
}

test_transactional_high_escalates if {
	d := main.decision with input as fx.call("approve_refund", none)
	fx.verdict(d) == "escalate"
	"global.tools.transactional_high_requires_approval" in d.rules
}

test_destructive_escalates if {
	d := main.decision with input as fx.call("delete_file", none)
	fx.verdict(d) == "escalate"
	"global.tools.destructive_requires_approval" in d.rules
	d.risk_tier == "destructive"
}

test_security_critical_denied_without_project_allow if {
	d := main.decision with input as fx.call("rotate_credentials", none)
	fx.verdict(d) == "deny"
	"global.tools.security_critical_needs_explicit_allow" in d.rules
}

test_unknown_tool_denied if {
	d := main.decision with input as fx.call("launch_missiles", none)
	fx.verdict(d) == "deny"
	d.rules == ["global.tools.unknown_tool"]
}

test_declared_tool_uses_declared_tier if {
	d := main.decision with input as object.union(fx.call("my_tool", none), {"tool": {"risk_tier": "operational", "external": false, "labels": {}}})
	fx.verdict(d) == "allow"
}

test_declaration_cannot_lower_registry_tier if {
	d := main.decision with input as object.union(fx.call("delete_file", none), {"tool": {"risk_tier": "informational"}})
	fx.verdict(d) == "escalate"
	d.risk_tier == "destructive"
}

test_missing_scope_denied if {
	d := main.decision with input as object.union(fx.call("read_file", none), {"context": object.union(fx.ctx, {"session_scopes": ["db:read"]})})
	fx.verdict(d) == "deny"
	"global.tools.missing_scope" in d.rules
}

test_credential_narrows_scopes if {
	d := main.decision with input as object.union(fx.call("read_file", none), {"credential": {"token_id": "t", "scopes": ["db:read"], "expires_at": 0, "depth": 0}})
	fx.verdict(d) == "deny"
	"global.tools.missing_scope" in d.rules
}

test_credential_with_scope_allows if {
	d := main.decision with input as object.union(fx.call("read_file", none), {"credential": {"token_id": "t", "scopes": ["fs:read"]}})
	fx.verdict(d) == "allow"
}

test_role_restriction if {
	d1 := main.decision with input as fx.call("read_file", none)
		with data.kitelogik.config.tools.read_file as {"tier": "informational", "scope": "fs:read", "roles": ["admin"]}
	"global.tools.role_not_permitted" in d1.rules
	d2 := main.decision with input as object.union(fx.call("read_file", none), {"context": object.union(fx.ctx, {"user_role": "admin"})})
		with data.kitelogik.config.tools.read_file as {"tier": "informational", "scope": "fs:read", "roles": ["admin"]}
	fx.verdict(d2) == "allow"
}

test_project_tools_extend_but_never_override if {
	d1 := main.decision with input as fx.call("crm_lookup", none)
		with data.kitelogik.project.tools as {"crm_lookup": {"tier": "informational", "scope": null}}
	fx.verdict(d1) == "allow"
	d2 := main.decision with input as fx.call("delete_file", none)
		with data.kitelogik.project.tools as {"delete_file": {"tier": "informational", "scope": null}}
	fx.verdict(d2) == "escalate"
}
