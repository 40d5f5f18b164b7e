package stripefake

import (
	"strings"
)

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randString(intn func(int) int, n int) string {
	var b strings.Builder
	b.Grow(n)
	for range n {
		b.WriteByte(alnum[intn(len(alnum))])
	}
	return b.String()
}

// prefixes are the id prefixes Stripe uses, by object type. Objects not
// listed here (coupons) have ids of their own making.
var prefixes = map[string]string{
	"account":                   "acct",
	"application_fee":           "fee",
	"balance_transaction":       "txn",
	"bank_account":              "ba",
	"card":                      "card",
	"charge":                    "ch",
	"checkout.session":          "cs_test",
	"coupon":                    "",
	"credit_note":               "cn",
	"credit_note_line_item":     "cnli",
	"customer":                  "cus",
	"discount":                  "di",
	"dispute":                   "dp",
	"event":                     "evt",
	"file":                      "file",
	"invoice":                   "in",
	"invoiceitem":               "ii",
	"item":                      "li",
	"line_item":                 "il",
	"payment_intent":            "pi",
	"payment_method":            "pm",
	"payout":                    "po",
	"plan":                      "price", // a plan shares its recurring price's id
	"price":                     "price",
	"product":                   "prod",
	"promotion_code":            "promo",
	"radar.early_fraud_warning": "issfr",
	"refund":                    "re",
	"review":                    "prv",
	"setup_intent":              "seti",
	"source":                    "src",
	"subscription":              "sub",
	"subscription_item":         "si",
	"subscription_schedule":     "sub_sched",
	"tax_id":                    "txi",
	"tax_rate":                  "txr",
	"transfer":                  "tr",
}

// objectForPrefix maps an id prefix back to its object type, for expand.
var objectForPrefix = func() map[string]string {
	m := make(map[string]string, len(prefixes))
	for object, p := range prefixes {
		if p != "" && object != "plan" {
			m[p] = object
		}
	}
	return m
}()

// idPrefix returns the part of id before its random part: "sub_sched" for
// "sub_sched_1Mr3Yd…", "cs_test" for a checkout session.
func idPrefix(id string) string {
	i := strings.LastIndexByte(id, '_')
	if i < 0 {
		return ""
	}
	return id[:i]
}

// newID returns an id shaped like Stripe's. Most are prefix_ + 24 characters
// that embed the account's token, as Stripe's do ("ch_3MmlLrLkdIwHu7ix0snN0B15"
// on account acct_1032D8LkdIwHu7ix); a few types use 14 random characters
// ("cus_NffrFeUfNV2Hib"). Charges and payment intents start with 3.
func newID(intn func(int) int, object, token string) string {
	p := prefixes[object]
	switch object {
	case "customer", "product", "subscription_item":
		return p + "_" + randString(intn, 14)
	case "coupon":
		return strings.ToUpper(randString(intn, 8))
	case "account":
		return "acct_1" + randString(intn, 15)
	case "checkout.session":
		return "cs_test_a1" + randString(intn, 56)
	}
	if p == "" {
		p = strings.ReplaceAll(object, ".", "_")
	}
	lead := "1"
	switch object {
	case "charge", "payment_intent", "refund":
		lead = "3"
	}
	return p + "_" + lead + randString(intn, 5) + token + randString(intn, 8)
}
