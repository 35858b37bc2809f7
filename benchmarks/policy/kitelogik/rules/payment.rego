# Payment rules (9 rules). Consulted only for tools of kind "payment".
package kitelogik.bench.rules.payment

import rego.v1

import data.kitelogik.bench.lib

c := lib.cfg.payment

amount := lib.num_arg("amount")

deny contains lib.v("payment.amount_missing", "a payment needs a numeric amount") if not lib.has_num_arg("amount")

deny contains lib.v("payment.amount_not_positive", "the amount must be positive") if amount <= 0

deny contains lib.v("payment.currency", "the currency is not supported") if not object.get(lib.args, "currency", null) in c.currencies

deny contains lib.v("payment.charge_limit", sprintf("charges above %d are not allowed", [c.max_charge])) if {
	lib.tool.op == "charge"
	amount > c.max_charge
}

deny contains lib.v("payment.refund_limit", sprintf("refunds above %d are not allowed", [c.max_refund])) if {
	lib.tool.op == "refund"
	amount > c.max_refund
}

deny contains lib.v("payment.customer_missing", "a customer id is required") if not lib.has_str_arg("customer_id")

deny contains lib.v("payment.scope", "the session lacks the payments scope") if not "payments" in lib.scopes

deny contains lib.v("payment.budget", "the amount exceeds the remaining money budget") if {
	remaining := object.get(lib.inp, ["budget", "remaining", "money"], null)
	is_number(remaining)
	amount > remaining
}

requires_hitl contains lib.v("payment.refund_review", "refunds above the review threshold need a human") if {
	lib.tool.op == "refund"
	amount > c.escalate_refund_above
}

requires_hitl contains lib.v("payment.charge_review", "every charge needs a human") if lib.tool.op == "charge"
