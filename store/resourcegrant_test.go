package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestResourceGrant (issue 17): an approval records which resources each
// scope reaches; the exchange, every refresh and every token check carry
// it (for the token's scopes: a narrower token drops the others' part, and
// no refresh widens it); a bad grant is refused with nothing written.
func TestResourceGrant(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		grant := store.Grant{ClientID: f.app.ClientID, MerchantID: f.merchant.ID, RedirectURI: "https://app.example.com/cb",
			Scopes: []string{"read:products", "read:checkouts"}}

		before := redistest.Snapshot(t, rdb)
		for name, g := range map[string]store.ResourceGrant{
			"a scope not granted": {"write:products": {"W1"}},
			"no id":               {"read:products": {}},
			`"all" as an id`:      {"read:products": {"all"}},
			"a space":             {"read:products": {"W 1"}},
			"empty id":            {"read:products": {""}},
		} {
			bad := grant
			bad.Resources = g
			if _, _, err := f.st.Approve(ctx, bad); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%s: %v", name, err)
			}
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

		grant.Resources = store.ResourceGrant{"read:products": {"W2", "W1", "W2"}}
		conn, code, err := f.st.Approve(ctx, grant)
		if err != nil {
			t.Fatal(err)
		}
		want := store.ResourceGrant{"read:products": {"W1", "W2"}}
		if got, err := f.st.GetConnection(ctx, conn.ID); err != nil || !reflect.DeepEqual(got.Resources, want) {
			t.Fatalf("the connection's grant: %v %v", got.Resources, err)
		}
		iss, err := f.st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: f.app.ClientID, RedirectURI: "https://app.example.com/cb"})
		if err != nil || !reflect.DeepEqual(iss.Resources, want) {
			t.Fatalf("exchange: %v %v", iss, err)
		}
		info, err := f.st.LookupAccess(ctx, iss.AccessToken)
		if err != nil || !reflect.DeepEqual(info.Resources, want) || !info.Resources.Allows("read:products", "W1") ||
			info.Resources.Allows("read:products", "W3") || !info.Resources.Allows("read:checkouts", "anything") {
			t.Fatalf("the token check: %+v %v", info, err)
		}
		// A narrower token: the part of a scope it lacks is not its own.
		narrow, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: iss.RefreshToken, ClientID: f.app.ClientID,
			Scopes: []string{"read:checkouts"}})
		if err != nil || narrow.Resources != nil {
			t.Fatalf("a narrower refresh: %+v %v", narrow, err)
		}
		// The next one, with every granted scope, has the grant whole.
		whole, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: narrow.RefreshToken, ClientID: f.app.ClientID})
		if err != nil || !reflect.DeepEqual(whole.Resources, want) {
			t.Fatalf("a refresh: %+v %v", whole, err)
		}
		if info, err := f.st.LookupToken(ctx, whole.RefreshToken); err != nil || !reflect.DeepEqual(info.Resources, want) {
			t.Fatalf("the refresh token's check: %+v %v", info, err)
		}
		// Without a grant, every scope reaches all.
		grant.Resources = nil
		_, code, err = f.st.Approve(ctx, grant)
		if err != nil {
			t.Fatal(err)
		}
		if iss, err := f.st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: f.app.ClientID, RedirectURI: "https://app.example.com/cb"}); err != nil || iss.Resources != nil {
			t.Fatalf("an exchange without a grant: %+v %v", iss, err)
		}
	})
}

// TestNarrowResources: a connection's grant narrows (from a list to part
// of it, from all to some), never widens, and bites at the next token
// check; a resource the platform removes from the merchant leaves every
// grant at once (a scope left with none reaches none); each change is
// audited.
func TestNarrowResources(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		conn, code, err := f.st.Approve(ctx, store.Grant{ClientID: f.app.ClientID, MerchantID: f.merchant.ID,
			RedirectURI: "https://app.example.com/cb", Scopes: []string{"read:products", "read:checkouts"},
			Resources: store.ResourceGrant{"read:products": {"W1", "W2"}}})
		if err != nil {
			t.Fatal(err)
		}
		iss, err := f.st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: f.app.ClientID, RedirectURI: "https://app.example.com/cb"})
		if err != nil {
			t.Fatal(err)
		}
		by := store.ActorMerchant(f.merchant.ID)
		before := redistest.Snapshot(t, rdb)
		for name, g := range map[string]store.ResourceGrant{
			"wider":              {"read:products": {"W1", "W3"}},
			"a scope it has not": {"write:products": {"W1"}},
			"none":               {"read:products": {}},
		} {
			if _, err := f.st.NarrowResources(ctx, conn.ID, g, by); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%s: %v", name, err)
			}
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

		got, err := f.st.NarrowResources(ctx, conn.ID, store.ResourceGrant{"read:products": {"W2"}, "read:checkouts": {"C1"}}, by)
		want := store.ResourceGrant{"read:products": {"W2"}, "read:checkouts": {"C1"}}
		if err != nil || !reflect.DeepEqual(got.Resources, want) {
			t.Fatalf("narrow: %+v %v", got, err)
		}
		info, err := f.st.LookupAccess(ctx, iss.AccessToken)
		if err != nil || info.Resources.Allows("read:products", "W1") || !info.Resources.Allows("read:products", "W2") ||
			info.Resources.Allows("read:checkouts", "C2") {
			t.Fatalf("the next check after narrowing: %+v %v", info, err)
		}
		events, _, _ := f.st.ListAudit(ctx, store.AuditFilter{ConnectionID: conn.ID}, "", 1)
		if len(events) != 1 || events[0].Type != store.EventNarrow || events[0].Actor != by {
			t.Fatalf("the narrowing's event: %+v", events)
		}

		// The platform drops W2 (bound to read:products here): the grant
		// of read:products reaches nothing, read:checkouts is untouched.
		types := store.ResourceTypes{{Name: "warehouse", ES: "Bodegas", EN: "Warehouses"}}
		set := func(ids ...string) {
			t.Helper()
			var rs []store.Resource
			for _, id := range ids {
				rs = append(rs, store.Resource{ID: id, Name: "Bodega " + id})
			}
			if _, err := f.st.SetResources(ctx, store.ResourceSet{MerchantID: f.merchant.ID, Type: "warehouse", Resources: rs,
				By: store.ActorCLI, Scopes: []string{"read:products"}}, types); err != nil {
				t.Fatal(err)
			}
		}
		set("W1", "W2")
		set("W1")
		info, err = f.st.LookupAccess(ctx, iss.AccessToken)
		if err != nil || info.Resources.Allows("read:products", "W2") || info.Resources.Allows("read:products", "W1") ||
			!info.Resources.Allows("read:checkouts", "C1") {
			t.Fatalf("after the platform removed W2: %+v %v", info, err)
		}
		if err := f.st.RevokeConnection(ctx, conn.ID, by); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.NarrowResources(ctx, conn.ID, store.ResourceGrant{"read:checkouts": {"C1"}}, by); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a revoked connection: %v", err)
		}
	})
}
