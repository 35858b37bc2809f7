# Payment rules (9 rules). Consulted only for tools of kind "payment".
package kitelogik.bench.rules.payment

import rego.v1

c := data.kitelogik.bench.lib.cfg.payment

amount := data.kitelogik.bench.lib.num_arg("amount")

deny contains data.kitelogik.bench.lib.v("payment.amount_missing", "a payment needs a numeric amount") if not data.kitelogik.bench.lib.has_num_arg("amount")

deny contains data.kitelogik.bench.lib.v("payment.amount_not_positive", "the amount must be positive") if amount <= 0

deny contains data.kitelogik.bench.lib.v("payment.currency", "the currency is not supported") if not object.get(data.kitelogik.bench.lib.args, "currency", null) in c.currencies

deny contains data.kitelogik.bench.lib.v("payment.charge_limit", sprintf("charges above %d are not allowed", [c.max_charge])) if {
	data.kitelogik.bench.lib.tool.op == "charge"
	amount > c.max_charge
}

deny contains data.kitelogik.bench.lib.v("payment.refund_limit", sprintf("refunds above %d are not allowed", [c.max_refund])) if {
	data.kitelogik.bench.lib.tool.op == "refund"
	amount > c.max_refund
}

deny contains data.kitelogik.bench.lib.v("payment.customer_missing", "a customer id is required") if not data.kitelogik.bench.lib.has_str_arg("customer_id")

deny contains data.kitelogik.bench.lib.v("payment.scope", "the session lacks the payments scope") if not "payments" in data.kitelogik.bench.lib.scopes

deny contains data.kitelogik.bench.lib.v("payment.budget", "the amount exceeds the remaining money budget") if {
	remaining := object.get(data.kitelogik.bench.lib.inp, ["budget", "remaining", "money"], null)
	is_number(remaining)
	amount > remaining
}

requires_hitl contains data.kitelogik.bench.lib.v("payment.refund_review", "refunds above the review threshold need a human") if {
	data.kitelogik.bench.lib.tool.op == "refund"
	amount > c.escalate_refund_above
}

requires_hitl contains data.kitelogik.bench.lib.v("payment.charge_review", "every charge needs a human") if data.kitelogik.bench.lib.tool.op == "charge"
