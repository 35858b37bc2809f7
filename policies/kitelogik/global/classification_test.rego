package kitelogik.global.classification_test

import rego.v1

import data.kitelogik.global.fixtures_test as fx
import data.kitelogik.main

access(labels, scopes) := d if {
	d := main.decision with input as fx.with_fields({"event_type": "data.access", "action": "customers", "resource": null, "data_labels": labels, "context": object.union(fx.ctx, {"session_scopes": scopes})})
}

test_public_data_needs_no_clearance if fx.verdict(access(["public"], [])) == "allow"

test_unlabelled_data_counts_as_internal if {
	access([], []).deny
	fx.verdict(access([], ["clearance:internal"])) == "allow"
}

test_confidential_needs_clearance if {
	d := access(["confidential"], ["clearance:internal"])
	d.deny
	d.reasons == ["data.access: confidential data needs clearance 'confidential' (scope clearance:confidential)"]
	fx.verdict(access(["confidential"], ["clearance:confidential"])) == "allow"
	fx.verdict(access(["confidential"], ["clearance:restricted"])) == "allow"
}

test_restricted_escalates_even_with_clearance if {
	d := access(["restricted"], ["clearance:restricted"])
	fx.verdict(d) == "escalate"
	d.risk_tier == "security_critical"
}

test_unknown_label_is_restricted if access(["top-secret"], ["clearance:confidential"]).deny

test_clearance_needs_credential_too if {
	d := main.decision with input as fx.with_fields({"event_type": "data.access", "action": "c", "data_labels": ["confidential"], "context": object.union(fx.ctx, {"session_scopes": ["clearance:confidential"]}), "credential": {"scopes": ["clearance:internal"]}})
	d.deny
}

test_classification_field_counts if {
	d := main.decision with input as fx.with_fields({"event_type": "data.access", "action": "c", "resource": {"classification": "confidential"}, "context": object.union(fx.ctx, {"session_scopes": ["clearance:internal"]})})
	d.deny
}

test_confidential_data_may_not_flow_to_external_tool if {
	d := main.decision with input as object.union(fx.call("http_get", {"hosts": ["api.example.com"]}), {"data_labels": ["confidential"]})
	d.deny
	d.reasons == ["data labelled confidential may not flow to the external tool 'http_get'"]
}

test_declared_external_tool_counts if {
	d := main.decision with input as object.union(fx.call("read_file", {"paths": []}), {"data_labels": ["restricted"], "tool": {"external": true}})
	"global.classification.external_flow" in d.rules
}

test_internal_data_may_flow_to_external_tool if {
	d := main.decision with input as object.union(fx.call("http_get", {"hosts": ["api.example.com"]}), {"data_labels": ["internal"]})
	d.allow
}

test_confidential_data_to_internal_tool_ok if {
	d := main.decision with input as object.union(fx.call("read_file", {"paths": []}), {"data_labels": ["confidential"]})
	d.allow
}
