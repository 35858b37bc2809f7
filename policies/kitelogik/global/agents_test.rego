package kitelogik.global.agents_test

import rego.v1

import data.kitelogik.global.fixtures_test as fx
import data.kitelogik.main

spawn(s) := d if {
	d := main.decision with input as fx.with_fields({"event_type": "agent.spawn", "action": "researcher", "spawn": s})
}

delegate(s) := d if {
	d := main.decision with input as fx.with_fields({"event_type": "agent.delegate", "action": "helper", "spawn": s})
}

test_spawn_allowed if {
	d := spawn({"requested_capabilities": ["fs:read"], "parent_capabilities": ["fs:read", "net:http"], "child_scopes": ["fs:read"], "depth": 1})
	fx.verdict(d) == "allow"
	d.rules == ["global.agents.spawn_within_limits"]
}

test_spawn_depth_limit if {
	d := spawn({"requested_capabilities": [], "parent_capabilities": [], "depth": 4})
	"global.agents.depth_limit" in d.rules
	d.deny
	fx.verdict(spawn({"requested_capabilities": [], "parent_capabilities": [], "depth": 3})) == "allow"
}

test_spawn_depth_from_context if {
	d := main.decision with input as fx.with_fields({"event_type": "agent.spawn", "action": "r", "spawn": {}, "context": object.union(fx.ctx, {"delegation_depth": 3})})
	"global.agents.depth_limit" in d.rules
}

test_spawn_capability_escalation if {
	d := spawn({"requested_capabilities": ["fs:read", "iam:admin"], "parent_capabilities": ["fs:read"], "depth": 1})
	d.deny
	"agent.spawn: requested capabilities exceed the parent's: iam:admin" in d.reasons
}

test_spawn_missing if {
	d := spawn(null)
	d.deny
	"global.validate.missing_spawn" in d.rules
}

test_spawn_depth_limit_from_data if {
	d := spawn({"requested_capabilities": [], "parent_capabilities": [], "depth": 2}) with data.kitelogik.config.agents.max_spawn_depth as 1
	d.deny
}

test_delegate_allowed if {
	fx.verdict(delegate({"child_scopes": ["fs:read"], "requested_capabilities": ["fs:read"], "parent_capabilities": ["fs:read"], "depth": 1})) == "allow"
}

test_delegate_scope_escalation if {
	d := delegate({"child_scopes": ["zeta", "alpha", "fs:read"], "depth": 1})
	d.deny
	"agent.delegate: delegated scopes exceed the session's: alpha, zeta" in d.reasons
}

test_delegate_scopes_narrowed_by_credential if {
	d := main.decision with input as fx.with_fields({"event_type": "agent.delegate", "action": "h", "spawn": {"child_scopes": ["fs:read"], "depth": 1}, "credential": {"scopes": ["db:read"]}})
	"global.agents.scope_escalation" in d.rules
}

test_delegate_depth_limit if {
	delegate({"child_scopes": [], "depth": 9}).deny
}
