package kitelogik.library.messaging_test

import rego.v1

import data.kitelogik.library.messaging as msg

mail(args) := {"event_type": "tool_call", "action": "send_email", "args": args}

internal := {"messaging": {"internal_domains": ["corp.example"]}}

test_internal_mail_passes if {
	count(msg.deny) == 0 with input as mail({"to": "ann@corp.example"}) with data.kitelogik.project.library_settings as internal
	count(msg.requires_hitl) == 0 with input as mail({"to": "ann@CORP.example"}) with data.kitelogik.project.library_settings as internal
}

test_external_escalates if {
	count(msg.requires_hitl) == 1 with input as mail({"to": "ann@corp.example, eve@evil.example"}) with data.kitelogik.project.library_settings as internal
}

test_lookalike_domain_is_external if {
	count(msg.requires_hitl) == 1 with input as mail({"to": ["eve@corp.example.evil.example"]}) with data.kitelogik.project.library_settings as internal
}

test_mass_mail_denied if {
	many := [sprintf("u%d@corp.example", [i]) | some i in numbers.range(1, 11)]
	{d.rule | some d in msg.deny} == {"library.messaging.too_many_recipients"} with input as mail({"bcc": many})
}

test_malformed_recipients_denied if {
	{d.rule | some d in msg.deny} == {"library.messaging.malformed_recipients"} with input as mail({"to": {"x": 1}})
}
