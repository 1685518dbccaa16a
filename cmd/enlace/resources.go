package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/enlace-oauth/enlace/server"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

// A merchant's resources (warehouses, sales channels, stores…), as the
// platform tells enlace of them: `enlace merchant resources set|list`,
// the command line's side of PUT|GET /admin/api/merchants/{id}/resources/
// {type} (server/admin_resources.go), with the same JSON.

// maxResourcesFile bounds a set read from a file or standard input, as
// the admin API bounds its body.
const maxResourcesFile = 1 << 20

func (e *env) merchantResourcesCommand() *cobra.Command {
	return group("resources", "Set and list a merchant's resources (warehouses, sales channels, stores…)",
		e.resourcesSetCommand(), e.resourcesListCommand())
}

// findMerchant is the merchant with this id, or this email when it has an
// "@".
func findMerchant(ctx context.Context, st *store.Store, idOrEmail string) (*store.Merchant, error) {
	var m *store.Merchant
	var err error
	if strings.Contains(idOrEmail, "@") {
		m, err = st.FindMerchant(ctx, idOrEmail)
	} else {
		m, err = st.GetMerchant(ctx, idOrEmail)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no merchant with id or email %q", idOrEmail)
	}
	return m, err
}

// typesNote names the configured types, for help texts and messages.
func typesNote(cfg *config.Config) string {
	if len(cfg.ResourceTypes) == 0 {
		return "no resource type is configured"
	}
	return "the types are " + strings.Join(cfg.ResourceTypes.Names(), ", ")
}

func (e *env) resourcesSetCommand() *cobra.Command {
	var file string
	var fromStdin, asJSON bool
	c := &cobra.Command{
		Use:   "set MERCHANT_ID_OR_EMAIL TYPE (--file FILE | --stdin)",
		Short: "Replace a merchant's resources of one type (warehouse, channel, …)",
		Long: `Replace the merchant's whole set of resources of one type (resource_types in config.yaml) with a
JSON array of {"id": …, "name": …}, from a file or standard input; [] leaves the merchant none.
Ids are 1 to 128 bytes of printable ASCII without spaces, each once, and not "all"; names 1 to
200 characters; at most 1000 resources. A bad set changes nothing. The set is printed as stored:
names trimmed, sorted by name.`,
		Example: `  printf '%s' '[{"id":"W1","name":"Bodega Central"},{"id":"W2","name":"Bodega Norte"}]' |
    enlace merchant resources set ana@tienda.cl warehouse --stdin`,
		Args: exactArgs(2, "two arguments, the merchant's id or email and the resource type"),
		RunE: func(c *cobra.Command, args []string) error {
			if (file == "") == !fromStdin {
				return usageError{"give the resources with --file FILE or --stdin (one of them)"}
			}
			in := e.stdin
			if file != "" {
				f, err := os.Open(file)
				if err != nil {
					return fmt.Errorf("read resources: %w", err)
				}
				defer f.Close()
				in = f
			}
			body, err := io.ReadAll(io.LimitReader(in, maxResourcesFile+1))
			if err != nil {
				return fmt.Errorf("read resources: %w", err)
			}
			if len(body) > maxResourcesFile {
				return errors.New("read resources: more than 1 MiB")
			}
			rs, err := server.ParseResources(body)
			if err != nil {
				return fmt.Errorf("read resources: %w", err)
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			typ := args[1]
			if _, ok := cfg.ResourceTypes.Lookup(typ); !ok {
				return fmt.Errorf("no resource type %q (%s)", typ, typesNote(cfg))
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				m, err := findMerchant(ctx, st, args[0])
				if err != nil {
					return err
				}
				stored, err := st.SetResources(ctx, store.ResourceSet{MerchantID: m.ID, Type: typ, Resources: rs,
					By: store.ActorCLI, Scopes: cfg.Scopes.BoundTo(typ)}, cfg.ResourceTypes)
				if err != nil {
					return err
				}
				if asJSON {
					return e.writeJSON(stored)
				}
				fmt.Fprintf(e.stdout, "%d %s resources set for merchant %s (%s)\n", len(stored), typ, m.ID, m.Email)
				return e.resourcesTable(map[string][]store.Resource{typ: stored}, []string{typ})
			})
		},
	}
	f := c.Flags()
	f.StringVar(&file, "file", "", `a file holding the JSON array of {"id","name"}`)
	f.BoolVar(&fromStdin, "stdin", false, "read the JSON array from standard input")
	f.BoolVar(&asJSON, "json", false, "print the set as stored, as JSON")
	return c
}

func (e *env) resourcesListCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list MERCHANT_ID_OR_EMAIL [TYPE]",
		Short: "List a merchant's resources, of one type or of every type",
		Long: `List the merchant's resources of TYPE, or of every configured type, sorted by name. --json prints
the array of {"id","name"} of TYPE (as GET /admin/api/merchants/{id}/resources/{type} answers it), or,
without TYPE, an object of every type's array.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 || strings.TrimSpace(args[0]) == "" {
				return usageError{fmt.Sprintf("%q takes the merchant's id or email, and optionally a resource type", c.CommandPath())}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			types := cfg.ResourceTypes.Names()
			if len(args) == 2 {
				if _, ok := cfg.ResourceTypes.Lookup(args[1]); !ok {
					return fmt.Errorf("no resource type %q (%s)", args[1], typesNote(cfg))
				}
				types = args[1:]
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				m, err := findMerchant(ctx, st, args[0])
				if err != nil {
					return err
				}
				sets, err := st.Resources(ctx, m.ID, cfg.ResourceTypes, types...)
				if err != nil {
					return err
				}
				switch {
				case asJSON && len(args) == 2:
					return e.writeJSON(sets[args[1]])
				case asJSON:
					return e.writeJSON(sets)
				}
				return e.resourcesTable(sets, types)
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// resourcesTable prints sets, type by type in the order of types.
func (e *env) resourcesTable(sets map[string][]store.Resource, types []string) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tID\tNAME")
	for _, t := range types {
		for _, r := range sets[t] {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", t, r.ID, r.Name)
		}
	}
	return tw.Flush()
}
