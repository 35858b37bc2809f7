package kitelogik.global.validate_test

import rego.v1

import data.kitelogik.global.fixtures_test as fx
import data.kitelogik.main

denied_by(inp, rule) if {
	d := main.decision with input as inp
	d.deny
	rule in d.rules
}

test_not_an_object if denied_by(["tool_call"], "global.validate.input_not_object")

test_unknown_event_type if denied_by(fx.with_fields({"event_type": "tool_calls"}), "global.validate.unknown_event_type")

test_action_wrong_type if denied_by(fx.with_fields({"action": 42}), "global.validate.missing_action")

test_context_null if denied_by(fx.with_fields({"context": null}), "global.validate.missing_context")

test_scopes_wrong_type if denied_by(fx.with_fields({"context": object.union(fx.ctx, {"session_scopes": "fs:read"})}), "global.validate.bad_field_type")

test_args_not_object if denied_by(fx.with_fields({"args": [1, 2]}), "global.validate.bad_field_type")

test_paths_wrong_type if denied_by(fx.with_fields({"resource": {"paths": [7]}}), "global.validate.bad_field_type")

test_credential_wrong_type if denied_by(fx.with_fields({"credential": "token"}), "global.validate.bad_credential")

test_credential_scopes_missing if denied_by(fx.with_fields({"credential": {"token_id": "t"}}), "global.validate.bad_credential")

test_budget_negative if denied_by(fx.with_fields({"budget": {"remaining": {"tokens": 5}, "requested": {"tokens": -1}}}), "global.validate.bad_budget")

test_budget_string if denied_by(fx.with_fields({"budget": {"remaining": {"tokens": "many"}}}), "global.validate.bad_budget")

test_bad_tool_tier if denied_by(fx.with_fields({"tool": {"risk_tier": "low"}}), "global.validate.bad_tool")

test_depth_wrong_type if denied_by(fx.with_fields({"context": object.union(fx.ctx, {"delegation_depth": "0"})}), "global.validate.bad_field_type")

test_nulls_are_fine if {
	d := main.decision with input as fx.with_fields({"resource": null, "args": null, "tool": null, "data_labels": null})
	d.allow
}
