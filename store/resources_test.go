package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

var resourceTypes = store.ResourceTypes{
	{Name: "warehouse", ES: "Bodegas", EN: "Warehouses", ESOne: "Bodega", ENOne: "Warehouse"},
	{Name: "channel", ES: "Canales de venta", EN: "Sales channels"},
}

// resourceEvents are the merchant's resource events, newest first.
func resourceEvents(t *testing.T, st *store.Store, merchantID string) []store.Event {
	t.Helper()
	events, _, err := st.ListAudit(context.Background(), store.AuditFilter{MerchantID: merchantID}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Event
	for _, e := range events {
		if e.Type == store.EventResources {
			out = append(out, e)
		}
	}
	return out
}

// TestResources: a merchant's resources of one type are replaced whole,
// read back sorted by name, audited when they change and only then, and
// an empty set leaves no key.
func TestResources(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		m := f.merchant.ID
		set := func(typ string, rs ...store.Resource) []store.Resource {
			t.Helper()
			got, err := f.st.SetResources(ctx, store.ResourceSet{MerchantID: m, Type: typ, Resources: rs,
				By: store.ActorAdminKey("sync")}, resourceTypes)
			if err != nil {
				t.Fatalf("set %s: %v", typ, err)
			}
			return got
		}
		read := func() map[string][]store.Resource {
			t.Helper()
			got, err := f.st.Resources(ctx, m, resourceTypes)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}

		if got := read(); len(got) != 2 || len(got["warehouse"]) != 0 || got["channel"] == nil {
			t.Fatalf("a merchant with none: %#v", got)
		}
		want := []store.Resource{{ID: "W3", Name: "Álamo"}, {ID: "W1", Name: "Bodega Central"},
			{ID: "W2", Name: "bodega norte"}, {ID: "W0", Name: "Ñuñoa"}, {ID: "W9", Name: "Ñuñoa"}}
		got := set("warehouse", store.Resource{ID: "W2", Name: "bodega norte"},
			store.Resource{ID: "W9", Name: "Ñuñoa"}, store.Resource{ID: "W1", Name: "Bodega Central"},
			store.Resource{ID: "W3", Name: "  Álamo "}, store.Resource{ID: "W0", Name: "Ñuñoa"})
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("as stored: %v", got)
		}
		if all := read(); !reflect.DeepEqual(all["warehouse"], want) || len(all["channel"]) != 0 {
			t.Fatalf("read back: %v", all)
		}
		if h := rdb.HGetAll(ctx, store.ResourcesKey(m, "warehouse")).Val(); len(h) != 5 || h["W3"] != "Álamo" {
			t.Fatalf("the hash: %v", h)
		}
		evs := resourceEvents(t, f.st, m)
		if len(evs) != 1 || evs[0].Actor != "admin-key:sync" || evs[0].MerchantID != m ||
			evs[0].Detail != "warehouse: 5 resources; 5 added, 0 removed, 0 renamed" {
			t.Fatalf("events: %+v", evs)
		}

		// The same set again, in another order: nothing written.
		before := redistest.Snapshot(t, rdb)
		set("warehouse", want[4], want[3], want[2], want[1], want[0])
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))
		if n := len(resourceEvents(t, f.st, m)); n != 1 {
			t.Fatalf("an unchanged set was audited: %d events", n)
		}

		// A replacement: one renamed, one new, the rest gone.
		got = set("warehouse", store.Resource{ID: "W1", Name: "Bodega Central (Santiago)"},
			store.Resource{ID: "W4", Name: "Bodega Sur"})
		if len(got) != 2 || got[0].ID != "W1" || got[1].ID != "W4" {
			t.Fatalf("replaced: %v", got)
		}
		if all := read(); !reflect.DeepEqual(all["warehouse"], got) {
			t.Fatalf("after the replacement: %v", all)
		}
		if evs := resourceEvents(t, f.st, m); len(evs) != 2 ||
			evs[0].Detail != "warehouse: 2 resources; 1 added, 4 removed, 1 renamed" {
			t.Fatalf("events: %+v", evs)
		}
		// One type does not touch another.
		set("channel", store.Resource{ID: "C1", Name: "Mercado Libre"})
		if all := read(); len(all["warehouse"]) != 2 || len(all["channel"]) != 1 {
			t.Fatalf("two types: %v", all)
		}
		only, err := f.st.Resources(ctx, m, resourceTypes, "channel")
		if err != nil || len(only) != 1 || only["channel"][0].Name != "Mercado Libre" {
			t.Fatalf("one type: %v %v", only, err)
		}

		// None: the key goes.
		if got := set("warehouse"); got == nil || len(got) != 0 {
			t.Fatalf("emptied: %#v", got)
		}
		if n := rdb.Exists(ctx, store.ResourcesKey(m, "warehouse")).Val(); n != 0 {
			t.Fatal("an empty set left its key")
		}
		if all := read(); len(all["warehouse"]) != 0 || len(all["channel"]) != 1 {
			t.Fatalf("after emptying: %v", all)
		}
		if evs := resourceEvents(t, f.st, m); len(evs) != 4 ||
			evs[0].Detail != "warehouse: 0 resources; 0 added, 2 removed, 0 renamed" {
			t.Fatalf("events: %+v", evs)
		}
		before = redistest.Snapshot(t, rdb)
		set("warehouse")
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

		// The bounds themselves are allowed: 1000 resources, ids of 128
		// bytes, names of 200 characters (400 bytes).
		big := make([]store.Resource, store.MaxResources)
		for i := range big {
			id := fmt.Sprintf("%0128d", i)
			big[i] = store.Resource{ID: id, Name: strings.Repeat("ñ", store.MaxResourceName-4) + fmt.Sprintf("%04d", i)}
		}
		if got := set("warehouse", big...); len(got) != store.MaxResources {
			t.Fatalf("1000 resources: %d stored", len(got))
		}
		if all := read(); len(all["warehouse"]) != store.MaxResources || all["warehouse"][999].ID != big[999].ID {
			t.Fatalf("1000 resources read back: %d", len(all["warehouse"]))
		}
	})
}

// TestResourcesRefused: every bad set, unknown type and unknown merchant
// is refused with a message saying what, and nothing is written, not even
// an audit event.
func TestResourcesRefused(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		m := f.merchant.ID
		if _, err := f.st.SetResources(ctx, store.ResourceSet{MerchantID: m, Type: "warehouse",
			Resources: []store.Resource{{ID: "W1", Name: "Bodega Central"}}}, resourceTypes); err != nil {
			t.Fatal(err)
		}
		r := func(id, name string) store.Resource { return store.Resource{ID: id, Name: name} }
		tooMany := make([]store.Resource, store.MaxResources+1)
		for i := range tooMany {
			tooMany[i] = r(fmt.Sprint("W", i), "Bodega")
		}
		before := redistest.Snapshot(t, rdb)
		events := len(resourceEvents(t, f.st, m))
		for name, c := range map[string]struct {
			merchant, typ string
			rs            []store.Resource
			want          error
			says          string
		}{
			"unknown type":     {m, "planet", nil, store.ErrNotFound, `no resource type "planet"`},
			"unknown merchant": {"no-such-merchant", "warehouse", nil, store.ErrNotFound, "no merchant"},
			"no merchant":      {"", "warehouse", nil, store.ErrNotFound, "no merchant"},
			"empty id":         {m, "warehouse", []store.Resource{r("W1", "A"), r("", "B")}, store.ErrInvalid, "resources[1]: the id is empty"},
			"duplicate id": {m, "warehouse", []store.Resource{r("W1", "A"), r("W2", "B"), r("W1", "C")}, store.ErrInvalid,
				`resources[2]: id "W1" is given twice (resources[0] has it too)`},
			"long id":      {m, "warehouse", []store.Resource{r(strings.Repeat("x", 129), "A")}, store.ErrInvalid, "longer than 128 bytes"},
			"id all":       {m, "warehouse", []store.Resource{r("all", "A")}, store.ErrInvalid, `"all" cannot be an id`},
			"id space":     {m, "warehouse", []store.Resource{r("W 1", "A")}, store.ErrInvalid, "holds a space"},
			"id control":   {m, "warehouse", []store.Resource{r("W\x001", "A")}, store.ErrInvalid, "control character"},
			"id non-ASCII": {m, "warehouse", []store.Resource{r("Wñ", "A")}, store.ErrInvalid, "outside ASCII"},
			"empty name":   {m, "warehouse", []store.Resource{r("W2", "  ")}, store.ErrInvalid, `resources[0] (id "W2"): the name is empty`},
			"long name": {m, "warehouse", []store.Resource{r("W2", strings.Repeat("a", store.MaxResourceName+1))}, store.ErrInvalid,
				"longer than 200 characters"},
			"control in name": {m, "warehouse", []store.Resource{r("W2", "Bodega\nNorte")}, store.ErrInvalid, "control"},
			"tab in name":     {m, "warehouse", []store.Resource{r("W2", "Bodega\tNorte")}, store.ErrInvalid, "control"},
			"line separator":  {m, "warehouse", []store.Resource{r("W2", "Bodega\u2028Norte")}, store.ErrInvalid, "U+2028"},
			"zero-width name": {m, "warehouse", []store.Resource{r("W2", "Bodega\u200bNorte")}, store.ErrInvalid, "format"},
			"bad UTF-8 name":  {m, "warehouse", []store.Resource{r("W2", "Bodega \xff")}, store.ErrInvalid, "UTF-8"},
			"mixed scripts":   {m, "warehouse", []store.Resource{r("W2", "Bоdega")}, store.ErrInvalid, "mixes"},
			"too many":        {m, "warehouse", tooMany, store.ErrInvalid, "1001 resources, more than the 1000 allowed"},
		} {
			_, err := f.st.SetResources(ctx, store.ResourceSet{MerchantID: c.merchant, Type: c.typ, Resources: c.rs,
				By: store.ActorCLI}, resourceTypes)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("%s: %v, want %v saying %q", name, err, c.want, c.says)
			}
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))
		if n := len(resourceEvents(t, f.st, m)); n != events {
			t.Fatalf("refusals wrote %d audit events", n-events)
		}
		if _, err := f.st.Resources(ctx, "no-such-merchant", resourceTypes); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("read for an unknown merchant: %v", err)
		}
		if _, err := f.st.Resources(ctx, m, resourceTypes, "planet"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("read of an unknown type: %v", err)
		}
	})
}

func TestResourceTypeNames(t *testing.T) {
	for name, ok := range map[string]bool{"warehouse": true, "sales_channel": true, "w2": true, "": false,
		"Warehouse": false, "2w": false, "_w": false, "ware-house": false, "ware house": false, "bodegä": false,
		strings.Repeat("a", store.MaxResourceTypeName): true, strings.Repeat("a", store.MaxResourceTypeName+1): false} {
		if store.ValidResourceTypeName(name) != ok {
			t.Errorf("%q: want %v", name, ok)
		}
	}
	wh := resourceTypes[0]
	if wh.Label("es", 2) != "Bodegas" || wh.Label("es", 1) != "Bodega" || wh.Label("en", 1) != "Warehouse" ||
		resourceTypes[1].Label("en", 1) != "Sales channels" {
		t.Error("labels")
	}
}
