# Control plane: budget holds, data-flow labels across agents, agent liveness, trusted memory.
#
# Consulted for every event (main: `some d in control.deny`, `some h in control.requires_hitl`);
# each rule names the event types it applies to. The fields below are filled by the library, never
# by the caller (docs/control-plane.md):
#
#   budget.reserved   false when the budget ledger could not hold the estimated cost (the ledger
#                     decided in the same transaction that read the remaining amounts).
#   flow              {"high_water": label, "labels": [..], "provenance": [{kind, name, trust}],
#                      "min_trust": trust}: what the session has seen so far (kitelogik.flow.FlowGate).
#   agent             {"known": bool, "alive": bool, "depth": n, "root": id}: the acting agent in the
#                     agent registry (kitelogik.agents), when the gate has one.
#   tool.labels.mcp_pin  for MCP tool calls (kitelogik.mcp): "verified" when the tool's definition
#                     matches its pin; "changed" (rug pull), "unapproved" or "absent" otherwise.
#   args.memory       for data.access "memory.write" events built by kitelogik.memory: the target
#                     tier and the source of the content (effective and claimed), with trust ranks.
#
# Label flow into agents: data of label L (the session's high-water mark, or the event's labels)
# may not be handed to a spawned or delegated agent whose clearance (a "clearance:<level>" scope in
# its child_scopes, default data.kitelogik.config.classification.default_clearance) is below L.
#
# Memory: content whose source is less trusted than the target tier needs a human approval; content
# that came from a tool or document but is claimed as user input (spoofed provenance) is denied.
package kitelogik.global.control

import rego.v1

c := data.kitelogik.global.lib.cfg.classification

rank(label) := object.get(c.labels, label, c.unknown_label_rank)

level(r) := c.order[r]

flow := data.kitelogik.global.lib.obj(object.get(data.kitelogik.global.lib.inp, "flow", {}))

spawn := data.kitelogik.global.lib.obj(object.get(data.kitelogik.global.lib.inp, "spawn", {}))

agent := data.kitelogik.global.lib.obj(object.get(data.kitelogik.global.lib.inp, "agent", {}))

budget := data.kitelogik.global.lib.obj(object.get(data.kitelogik.global.lib.inp, "budget", {}))

# Labels the event carries: its own labels, the session's labels and its high-water mark.
carried := (data.kitelogik.global.lib.input_labels | data.kitelogik.global.lib.strings(object.get(flow, "labels", []))) | {h | h := object.get(flow, "high_water", null); is_string(h)}

carried_rank := max({rank(l) | some l in carried}) if count(carried) > 0

child_clearance := max({rank(l) |
	some s in data.kitelogik.global.lib.strings(object.get(spawn, "child_scopes", []))
	startswith(s, "clearance:")
	l := substring(s, 10, -1)
	c.labels[l]
} | {rank(c.default_clearance)})

deny contains d if {
	object.get(budget, "reserved", true) == false
	d := {"rule": "global.control.budget_not_reserved", "reason": "budget: the estimated cost could not be reserved (not enough budget remains)"}
}

deny contains d if {
	data.kitelogik.global.lib.event_type in {"agent.spawn", "agent.delegate"}
	carried_rank > child_clearance
	d := {"rule": "global.control.label_flow_to_lower_clearance", "reason": sprintf("%s: %s data may not flow to an agent cleared only for %s data", [data.kitelogik.global.lib.event_type, level(carried_rank), level(child_clearance)])}
}

deny contains d if {
	object.get(agent, "alive", true) == false
	d := {"rule": "global.control.agent_killed", "reason": sprintf("agent '%s' was killed: its tree may no longer act", [data.kitelogik.global.lib.text(object.get(data.kitelogik.global.lib.ctx, "agent_id", ""))])}
}

deny contains d if {
	object.get(agent, "known", true) == false
	object.get(agent, "required", false) == true
	d := {"rule": "global.control.agent_unknown", "reason": sprintf("agent '%s' is not in the agent registry", [data.kitelogik.global.lib.text(object.get(data.kitelogik.global.lib.ctx, "agent_id", ""))])}
}

# MCP: only a tool whose definition matches its pin may be called (the client refuses the others
# itself; this rule makes the refusal a policy decision that is audited like any other).
mcp_labels := data.kitelogik.global.lib.obj(object.get(data.kitelogik.global.lib.tool_decl, "labels", {}))

deny contains d if {
	data.kitelogik.global.lib.event_type == "tool_call"
	status := object.get(mcp_labels, "mcp_pin", "verified")
	status != "verified"
	d := {"rule": "global.control.mcp_unpinned_tool", "reason": sprintf("MCP tool '%s' of server '%s' is %s: only the pinned definition may be used", [data.kitelogik.global.lib.text(object.get(mcp_labels, "mcp_tool", "")), data.kitelogik.global.lib.text(object.get(mcp_labels, "mcp_server", "")), data.kitelogik.global.lib.text(status)])}
}

# Memory ---------------------------------------------------------------------------------------

memory := data.kitelogik.global.lib.obj(object.get(data.kitelogik.global.lib.obj(object.get(data.kitelogik.global.lib.inp, "args", {})), "memory", {}))

memory_write if {
	data.kitelogik.global.lib.event_type == "data.access"
	data.kitelogik.global.lib.action == "memory.write"
}

deny contains d if {
	memory_write
	object.get(memory, "spoofed", false) == true
	src := data.kitelogik.global.lib.obj(object.get(memory, "source", {}))
	d := {"rule": "global.control.memory_spoofed_source", "reason": sprintf("memory.write: content from %s '%s' is claimed as %s input", [data.kitelogik.global.lib.text(object.get(src, "kind", "")), data.kitelogik.global.lib.text(object.get(src, "name", "")), data.kitelogik.global.lib.text(object.get(data.kitelogik.global.lib.obj(object.get(memory, "claimed_source", {})), "kind", ""))])}
}

deny contains d if {
	memory_write
	not is_number(object.get(memory, "tier_trust", null))
	d := {"rule": "global.control.memory_malformed", "reason": "memory.write: the target tier's trust is missing"}
}

requires_hitl contains d if {
	memory_write
	object.get(memory, "source_trust", 0) < memory.tier_trust
	src := data.kitelogik.global.lib.obj(object.get(memory, "source", {}))
	d := {"rule": "global.control.memory_untrusted_into_trusted", "reason": sprintf("memory.write: %s content (from %s '%s') into the trusted tier '%s' needs a human approval", [data.kitelogik.global.lib.text(object.get(src, "trust", "untrusted")), data.kitelogik.global.lib.text(object.get(src, "kind", "")), data.kitelogik.global.lib.text(object.get(src, "name", "")), data.kitelogik.global.lib.text(object.get(memory, "tier", ""))])}
}
