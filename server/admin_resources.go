package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/store"
)

// The admin API's view of merchants' resources (issue 17): the platform
// tells enlace which warehouses, sales channels, stores… each merchant
// has, one type at a time, and reads back what enlace keeps.
//
//	PUT /admin/api/merchants/{id}/resources/{type}  [{"id","name"}, …]
//	GET /admin/api/merchants/{id}/resources/{type}
//
// A PUT replaces the merchant's whole set of the type and answers it as
// stored (names trimmed, sorted by name); a GET answers the same array, so
// what a GET answers can be PUT back as it is. 404 for an unknown merchant
// or type, 415 for a body that is not application/json, 400 for anything
// else wrong with it (strictJSON: no key twice, valid UTF-8; no member but
// id and name; store.CheckResources: the rules of ids and names, at most
// store.MaxResources), and nothing is written then.

// resourcesRoute is the path of a merchant's resources of one type, in the
// admin API's group. Its body may exceed maxBody (limitBodies): 1,000
// resources at their bounds need more; it caps its own at maxResourcesBody.
const resourcesRoute = "/merchants/:id/resources/:type"

// resourcesRoutePath is resourcesRoute as gin's FullPath names it.
const resourcesRoutePath = "/admin/api" + resourcesRoute

// maxResourcesBody bounds a PUT of resources: room for store.MaxResources
// resources with ids and names of common lengths, well escaped.
const maxResourcesBody = 1 << 20

// resourceJSON is a resource on the wire, in and out.
type resourceJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func resourcesJSON(rs []store.Resource) []resourceJSON {
	out := make([]resourceJSON, len(rs))
	for i, r := range rs {
		out[i] = resourceJSON(r)
	}
	return out
}

// resourceType answers 404 for a type that is not configured; ok is false
// then.
func (s *Server) resourceType(c *gin.Context) (string, bool) {
	typ := c.Param("type")
	if _, ok := s.cfg.ResourceTypes.Lookup(typ); !ok {
		writeOAuth(c, apierror.New(apierror.NotFound, fmt.Sprintf("no resource type %q; the types are %s",
			typ, strings.Join(s.cfg.ResourceTypes.Names(), ", "))))
		return "", false
	}
	return typ, true
}

// resourcesFailed answers the store's refusal of a read or a replacement.
func (s *Server) resourcesFailed(c *gin.Context, what string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeOAuth(c, apierror.New(apierror.NotFound, "no merchant with this id"))
	case errors.Is(err, store.ErrInvalid):
		writeOAuth(c, apierror.Request(strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")))
	default:
		s.apiUnavailable(c, what, err)
	}
}

// apiResources answers a merchant's resources of one type.
func (s *Server) apiResources(c *gin.Context) {
	typ, ok := s.resourceType(c)
	if !ok {
		return
	}
	sets, err := s.store.Resources(c.Request.Context(), c.Param("id"), s.cfg.ResourceTypes, typ)
	if err != nil {
		s.resourcesFailed(c, "read resources", err)
		return
	}
	c.JSON(http.StatusOK, resourcesJSON(sets[typ]))
}

// apiSetResources replaces a merchant's resources of one type.
func (s *Server) apiSetResources(c *gin.Context) {
	typ, ok := s.resourceType(c)
	if !ok {
		return
	}
	rs, ok := readResources(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	stored, err := s.store.SetResources(ctx, store.ResourceSet{MerchantID: c.Param("id"), Type: typ, Resources: rs,
		By: actor(c), Scopes: s.cfg.Scopes.BoundTo(typ)}, s.cfg.ResourceTypes)
	if err != nil {
		s.resourcesFailed(c, "set resources", err)
		return
	}
	s.log.InfoContext(ctx, "merchant resources set", "merchant_id", c.Param("id"), "type", typ,
		"resources", len(stored), "by", actor(c))
	c.JSON(http.StatusOK, resourcesJSON(stored))
}

// readResources reads a PUT's body: a JSON array of {"id","name"}, sent
// as application/json. ok is false after an error was sent.
func readResources(c *gin.Context) ([]store.Resource, bool) {
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/json" {
		writeOAuth(c, apierror.New(apierror.UnsupportedMediaType,
			`send the resources as application/json: an array of {"id": …, "name": …}`))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxResourcesBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeOAuth(c, apierror.Request("the body is larger than 1 MiB").WithStatus(http.StatusRequestEntityTooLarge))
			return nil, false
		}
		writeOAuth(c, apierror.Request("the body could not be read"))
		return nil, false
	}
	rs, err := ParseResources(body)
	if err != nil {
		writeOAuth(c, apierror.Request(err.Error()))
		return nil, false
	}
	return rs, true
}

// ParseResources reads a set of resources as the admin API's PUT and
// `enlace merchant resources set` take it: a JSON array of objects with
// an "id" and a "name" (strings) and nothing else, in valid UTF-8, no key
// given twice. The rules of the values themselves are the store's
// (store.CheckResources).
func ParseResources(body []byte) ([]store.Resource, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, errors.New(`the body must be a JSON array of {"id": …, "name": …} ([] for none)`)
	}
	if err := strictJSON(trimmed); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	var in []resourceJSON
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf(`the body must be a JSON array of {"id": …, "name": …}, strings: %w`, err)
	}
	if dec.More() {
		return nil, errors.New("the body holds more than one JSON value")
	}
	out := make([]store.Resource, len(in))
	for i, r := range in {
		out[i] = store.Resource(r)
	}
	return out, nil
}

// apiNarrowResources is PUT /admin/api/connections/{id}/resources with
// {"scope": ["id", …], …}: the connection's scopes named reach only those
// of the merchant's resources from the next token check on (the others are
// left as they are). It narrows and never widens: 400 for a resource a
// scope does not reach now, or that is not the merchant's; 404 for an
// unknown or revoked connection; 409 when it changed meanwhile.
func (s *Server) apiNarrowResources(c *gin.Context) {
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/json" {
		writeOAuth(c, apierror.New(apierror.UnsupportedMediaType, `send {"scope": ["resource id", …]} as application/json`))
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		writeOAuth(c, apierror.Request("the request body is too large"))
		return
	}
	var g store.ResourceGrant
	if err := strictJSON(body); err != nil {
		writeOAuth(c, apierror.Request("the body is not valid JSON: "+err.Error()))
		return
	}
	if err := json.Unmarshal(body, &g); err != nil || len(g) == 0 {
		writeOAuth(c, apierror.Request(`the body must be an object {"scope": ["resource id", …]} with at least one scope`))
		return
	}
	ctx := c.Request.Context()
	cn, err := s.store.GetConnection(ctx, c.Param("id"))
	if err == nil {
		err = s.checkResourceChoice(ctx, cn.MerchantID, cn.Scopes, g)
	}
	if err == nil {
		cn, err = s.store.NarrowResources(ctx, c.Param("id"), g, actor(c))
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeOAuth(c, apierror.New(apierror.NotFound, "no live connection with this id"))
	case errors.Is(err, store.ErrInvalid):
		writeOAuth(c, apierror.Request(strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")))
	case errors.Is(err, store.ErrConflict):
		e := apierror.Request(strings.TrimPrefix(err.Error(), store.ErrConflict.Error()+": "))
		e.Status = http.StatusConflict
		writeOAuth(c, e)
	case err != nil:
		s.apiUnavailable(c, "narrow resources", err)
	default:
		s.log.InfoContext(ctx, "connection narrowed", "connection_id", cn.ID, "by", actor(c))
		c.JSON(http.StatusOK, connectionJSON(cn))
	}
}
