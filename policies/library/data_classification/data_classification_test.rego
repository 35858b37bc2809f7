package kitelogik.library.data_classification_test

import rego.v1

import data.kitelogik.library.data_classification as dc

call(action, args, labels) := {"event_type": "tool_call", "action": action, "args": args, "data_labels": labels}

test_public_egress_passes if {
	count(dc.deny) == 0 with input as call("send_email", {"to": "a@b.example"}, ["public"])
}

test_pii_egress_denied if {
	{d.rule | some d in dc.deny} == {"library.data_classification.egress"} with input as call("http_post", {}, ["PII"])
}

test_classification_field if {
	count(dc.deny) == 1 with input as {"event_type": "tool_call", "action": "send_email", "args": {}, "resource": {"classification": "restricted"}}
}

test_internal_tool_may_hold_pii if {
	count(dc.deny) == 0 with input as call("write_file", {"path": "/srv/app/x"}, ["pii"])
}

test_declared_external_tool if {
	count(dc.deny) == 1 with input as object.union(call("crm_sync", {}, ["secret"]), {"tool": {"external": true}})
}

test_secrets_in_args_denied if {
	every v in ["AKIAABCDEFGHIJKLMNOP", "-----BEGIN RSA PRIVATE KEY-----\nabc", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token sk-abcdefghijklmnopqrstuvwx"] {
		"library.data_classification.secret_in_args" in {d.rule | some d in dc.deny} with input as call("write_file", {"content": v}, [])
	}
}
