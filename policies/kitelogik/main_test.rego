package kitelogik.main_test

import rego.v1

import data.kitelogik.global.fixtures_test as fx
import data.kitelogik.main

test_allow_informational_tool if {
	d := main.decision with input as fx.base
	fx.well_formed(d)
	fx.verdict(d) == "allow"
	d.risk_tier == "informational"
	d.rules == ["global.tools.risk_tier_permits"]
}

test_decision_shape_for_every_event_type if {
	every et in ["tool_call", "agent.spawn", "agent.delegate", "plan", "resource.use", "data.access", "bogus"] {
		d := main.decision with input as fx.with_fields({"event_type": et})
		fx.well_formed(d)
	}
}

test_malformed_inputs_deny if {
	every bad in [null, 1, "x", [], {}, {"event_type": "tool_call"}, {"event_type": "tool_call", "action": "read_file"}] {
		d := main.decision with input as bad
		fx.well_formed(d)
		d.deny
		not d.allow
	}
}

test_default_deny_reason if {
	d := main.decision with input as fx.call("grant_permission", {"paths": [], "hosts": []})
	fx.verdict(d) == "deny"
	"no policy allows this action" in d.reasons
	"main.default_deny" in d.rules
	d.risk_tier == "security_critical"
}

test_project_allow_cannot_override_global_deny if {
	d := main.decision with input as fx.call("read_file", {"paths": ["/etc/shadow"]})
		with data.kitelogik.project.allow as {{"rule": "project.allow_everything", "reason": "yolo"}}
	fx.verdict(d) == "deny"
	"global.paths.denied_prefix" in d.rules
	not "yolo" in d.reasons
}

test_project_boolean_allow_cannot_override_global_deny if {
	d := main.decision with input as fx.call("mystery", {"paths": []}) with data.kitelogik.project.allow as true
	fx.verdict(d) == "deny"
}

test_project_allow_enables_security_critical_with_approval if {
	d := main.decision with input as fx.call("grant_permission", {"paths": [], "hosts": []})
		with data.kitelogik.project.allow as {{"rule": "project.iam_admins", "reason": "IAM changes by the admin agent"}}
	fx.verdict(d) == "escalate"
	"project.iam_admins" in d.rules
}

test_project_deny_adds_to_global if {
	d := main.decision with input as fx.base
		with data.kitelogik.project.deny as {{"rule": "project.no_reads", "reason": "reads are off today"}}
	fx.verdict(d) == "deny"
	d.reasons == ["reads are off today"]
}

test_project_string_and_malformed_entries_deny if {
	d1 := main.decision with input as fx.base with data.kitelogik.project.deny as {"plain string reason"}
	d1.reasons == ["plain string reason"]
	d1.rules == ["global.tools.risk_tier_permits", "project.deny"]
	d2 := main.decision with input as fx.base with data.kitelogik.project.deny as {42}
	d2.deny
	"project.deny.malformed_entry" in d2.rules
}

test_project_malformed_allow_never_allows if {
	d := main.decision with input as fx.call("grant_permission", {"paths": []}) with data.kitelogik.project.allow as {42}
	fx.verdict(d) == "deny"
}

test_project_escalation if {
	d := main.decision with input as fx.base
		with data.kitelogik.project.requires_hitl as {{"rule": "project.review_reads", "reason": "review reads"}}
	fx.verdict(d) == "escalate"
	d.reasons == ["review reads"]
}

test_project_risk_tier_raises_never_lowers if {
	d1 := main.decision with input as fx.base with data.kitelogik.project.risk_tier as "destructive"
	d1.risk_tier == "destructive"
	d2 := main.decision with input as fx.call("delete_file", {"paths": []}) with data.kitelogik.project.risk_tier as "informational"
	d2.risk_tier == "destructive"
	d3 := main.decision with input as fx.base with data.kitelogik.project.risk_tier as "bogus"
	d3.risk_tier == "informational"
}

test_project_obligations_copied if {
	d := main.decision with input as fx.base with data.kitelogik.project.obligations as {"log": "full"}
	d.obligations == {"log": "full"}
}
