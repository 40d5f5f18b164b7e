package stripefake

// The accessors below read the fake's state directly, as ground truth for
// tests and benchmarks. accountID "" means the platform.

// ConnectedAccounts returns the connected accounts' ids, newest first.
func (s *Server) ConnectedAccounts() []string {
	return s.IDs("", "account")
}

// IDs returns the ids of all live objects of a top-level type in list order
// (newest first), hidden ones included: canceled subscriptions, events older
// than 30 days. It returns nil for an unknown account.
func (s *Server) IDs(accountID, object string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.account(accountID)
	if a == nil {
		return nil
	}
	recs := a.list(object, "").all()
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.id
	}
	return ids
}

// ChildIDs returns the ids of the children of parentID in list order: the
// lines of an invoice ("line_item"), the items of a subscription, the
// payment methods of a customer. For "card", "bank_account" and "source" it
// returns the sources of that type of a customer, or, with parentID the
// connected account's own id (and accountID that account), its external
// accounts of that type: what GET …/sources?object=card lists.
func (s *Server) ChildIDs(accountID, object, parentID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.account(accountID)
	if a == nil {
		return nil
	}
	var ids []string
	for _, r := range a.list(object, parentID).all() {
		ids = append(ids, r.id)
	}
	return ids
}

// SourceIDs returns the ids of a customer's cards, bank accounts and
// sources together, in the order GET /v1/customers/{id}/sources lists them
// (newest first).
func (s *Server) SourceIDs(accountID, customerID string) []string {
	return s.ChildIDs(accountID, paymentSource, customerID)
}

// ExternalAccountIDs returns the ids of a connected account's external
// accounts (bank accounts and debit cards) in the order GET
// /v1/accounts/{id}/external_accounts lists them. Read them with
// Object(connectedAccountID, "bank_account"|"card", id): they live on the
// connected account, though the platform lists them without a
// Stripe-Account header.
func (s *Server) ExternalAccountIDs(connectedAccountID string) []string {
	return s.ChildIDs(connectedAccountID, externalAccount, connectedAccountID)
}

// Object returns a deep copy of an object as GET without Stripe-Version
// would render it, in Options.APIVersion, nested lists included, and
// whether it exists (deleted objects do not). ObjectAt takes the version.
func (s *Server) Object(accountID, object, id string) (map[string]any, bool) {
	return s.ObjectAt(accountID, object, id, s.opts.APIVersion)
}

// Objects counts the live objects of the account by type:
// a quick inventory for benchmarks and demos.
func (s *Server) Objects(accountID string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.account(accountID)
	if a == nil {
		return nil
	}
	out := map[string]int{}
	for _, r := range a.records {
		if !r.deleted {
			out[r.object]++
		}
	}
	return out
}

// account returns the account by id ("" for the platform), or nil. Callers
// hold s.mu.
func (s *Server) account(id string) *account {
	if id == "" {
		return s.platform
	}
	return s.accounts[id]
}
