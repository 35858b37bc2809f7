package kitelogik.global.control_test

import rego.v1

import data.kitelogik.global.fixtures_test as fx
import data.kitelogik.main

decide(fields) := d if {
	d := main.decision with input as fx.with_fields(fields)
}

# Budget holds ---------------------------------------------------------------------------------

test_unreserved_budget_denied if {
	# Even when the remaining amount looks sufficient, a hold the ledger refused is a deny.
	d := decide({"budget": {"remaining": {"api_calls": 5}, "requested": {"api_calls": 1}, "reserved": false}})
	d.deny
	"global.control.budget_not_reserved" in d.rules
}

test_reserved_budget_allowed if {
	d := decide({"budget": {"remaining": {"api_calls": 5}, "requested": {"api_calls": 1}, "reserved": true}})
	fx.verdict(d) == "allow"
}

# Label flow into agents -------------------------------------------------------------------------

spawn(scopes, flow) := decide({
	"event_type": "agent.spawn", "action": "helper", "flow": flow,
	"spawn": {"requested_capabilities": scopes, "parent_capabilities": ["net:http", "clearance:confidential", "clearance:public"], "child_scopes": scopes, "depth": 1},
})

test_confidential_session_cannot_spawn_public_agent if {
	d := spawn(["net:http", "clearance:public"], {"high_water": "confidential", "labels": ["confidential"]})
	d.deny
	"agent.spawn: confidential data may not flow to an agent cleared only for public data" in d.reasons
}

test_default_clearance_is_public if {
	spawn(["net:http"], {"high_water": "internal", "labels": ["internal"]}).deny
}

test_cleared_agent_allowed if {
	fx.verdict(spawn(["net:http", "clearance:confidential"], {"high_water": "confidential", "labels": ["confidential"]})) == "allow"
}

test_clean_session_spawns_freely if {
	fx.verdict(spawn(["net:http"], null)) == "allow"
}

test_event_labels_count_too if {
	d := decide({
		"event_type": "agent.delegate", "action": "helper", "data_labels": ["restricted"],
		"spawn": {"requested_capabilities": [], "parent_capabilities": [], "child_scopes": ["clearance:confidential"], "depth": 1},
	})
	"global.control.label_flow_to_lower_clearance" in d.rules
}

# Agents ---------------------------------------------------------------------------------------

test_killed_agent_denied if {
	d := decide({"agent": {"known": true, "alive": false, "depth": 1, "root": "r"}})
	d.deny
	"agent 'a1' was killed: its tree may no longer act" in d.reasons
}

test_unknown_agent_denied_only_when_required if {
	"global.control.agent_unknown" in decide({"agent": {"known": false, "alive": false, "required": true}}).rules
	fx.verdict(decide({"agent": {"known": false, "alive": true, "required": false}})) == "allow"
}

# MCP ------------------------------------------------------------------------------------------

mcp(status) := decide({"action": "mcp__weather__get_weather", "tool": {"risk_tier": "operational", "labels": {"mcp_server": "weather", "mcp_tool": "get_weather", "mcp_pin": status}}})

test_mcp_verified_allowed if {
	fx.verdict(mcp("verified")) == "allow"
}

test_mcp_changed_denied if {
	d := mcp("changed")
	d.deny
	"MCP tool 'get_weather' of server 'weather' is changed: only the pinned definition may be used" in d.reasons
}

test_mcp_unapproved_denied if {
	"global.control.mcp_unpinned_tool" in mcp("unapproved").rules
}

# Memory ---------------------------------------------------------------------------------------

write(memory) := decide({
	"event_type": "data.access", "action": "memory.write", "access": {"mode": "write"},
	"data_labels": ["public"], "resource": {"paths": [], "hosts": [], "classification": "public"},
	"args": {"namespace": "s1", "memory": memory},
})

test_memory_same_trust_allowed if {
	fx.verdict(write({"tier": "user", "tier_trust": 2, "source": {"kind": "user", "name": "user", "trust": "user"}, "source_trust": 2, "spoofed": false})) == "allow"
}

test_memory_untrusted_into_trusted_escalates if {
	d := write({"tier": "user", "tier_trust": 2, "source": {"kind": "tool", "name": "http_get", "trust": "untrusted"}, "source_trust": 0, "spoofed": false})
	fx.verdict(d) == "escalate"
	"memory.write: untrusted content (from tool 'http_get') into the trusted tier 'user' needs a human approval" in d.reasons
}

test_memory_spoofed_denied if {
	d := write({"tier": "user", "tier_trust": 2, "source": {"kind": "tool", "name": "http_get", "trust": "untrusted"}, "claimed_source": {"kind": "user"}, "source_trust": 0, "spoofed": true})
	d.deny
	"memory.write: content from tool 'http_get' is claimed as user input" in d.reasons
}

test_memory_missing_tier_trust_denied if {
	"global.control.memory_malformed" in write({"tier": "user"}).rules
}

test_memory_missing_source_trust_counts_as_untrusted if {
	fx.verdict(write({"tier": "agent", "tier_trust": 1})) == "escalate"
}
