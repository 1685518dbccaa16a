package consent

import (
	"errors"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"

	"github.com/enlace-oauth/enlace/store"
)

// A merchant narrows one of their connections from /connections (issue
// 17): a scope bound to a resource type that reaches all of the type's
// resources can be limited to some, and one limited to some can lose
// some of them. Nothing on the page widens a grant: a limited scope offers
// only what it reaches, and the store refuses a widening anyway.

// narrowChoice is one scope's choice on the narrowing page.
type narrowChoice struct {
	*resourceChoice
	// Limited: the scope reaches only the options now (no "all" to pick).
	Limited bool
}

// narrowChoices are the page's choices for cn's scopes, by scope, in the
// connection's order; have are the merchant's resources of their types.
func (h *MerchantPages) narrowChoices(c *gin.Context, cn *store.Connection, have map[string][]store.Resource) []narrowChoice {
	loc := h.i18n.localizer(h.i18n.pick(c.Request))
	var out []narrowChoice
	for _, sc := range cn.Scopes {
		t, ok := h.scopeType(sc)
		if !ok {
			continue
		}
		ids, limited := cn.Resources.Limited(sc)
		if !limited {
			if ch := h.resourceChoices(loc, []string{sc}, have, nil)[sc]; ch != nil {
				out = append(out, narrowChoice{resourceChoice: ch})
			}
			continue
		}
		if len(ids) == 0 {
			continue // it reaches none: nothing to untick
		}
		// The options are what it reaches, named from the current set.
		only := map[string][]store.Resource{}
		for _, id := range ids {
			r := store.Resource{ID: id, Name: loc.T("resource_removed", "ID", id)}
			if i := slices.IndexFunc(have[t.Name], func(r store.Resource) bool { return r.ID == id }); i >= 0 {
				r = have[t.Name][i]
			}
			only[t.Name] = append(only[t.Name], r)
		}
		ch := h.resourceChoices(loc, []string{sc}, only, map[string]resourceSelection{sc: {Some: true, IDs: ids}})[sc]
		out = append(out, narrowChoice{resourceChoice: ch, Limited: true})
	}
	return out
}

// NarrowPage shows the choices of one of the merchant's connections.
func (h *MerchantPages) NarrowPage(c *gin.Context) {
	sess, m, ok := h.requireMerchant(c)
	if !ok {
		return
	}
	cn, ok := h.ownConnection(c, m)
	if !ok {
		return
	}
	h.renderNarrow(c, http.StatusOK, sess, m, cn, "")
}

func (h *MerchantPages) renderNarrow(c *gin.Context, status int, sess *sessions.Session, m *store.Merchant, cn *store.Connection, errID string) {
	have, err := h.merchantResources(c.Request.Context(), m.ID, cn.Scopes)
	if err != nil {
		h.Unavailable(c, "read resources", err)
		return
	}
	choices := h.narrowChoices(c, cn, have)
	if len(choices) == 0 && errID == "" {
		errID = "narrow_nothing"
	}
	h.Render(c, status, "narrow_resources", "narrow_title", sess, map[string]any{
		"Connection": h.connectionViews(c, []*store.Connection{cn}, have)[0],
		"Choices":    choices,
		"Error":      errID,
	})
}

// Narrow applies the posted choices: each scope reaches at most what it
// did. A field the page did not offer is 400; "only these" with nothing
// ticked shows the page again (revoking is the way to give up a scope).
func (h *MerchantPages) Narrow(c *gin.Context) {
	sess, m, ok := h.requireMerchant(c)
	if !ok {
		return
	}
	if !h.CSRFOK(c, sess) {
		return
	}
	cn, ok := h.ownConnection(c, m)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	have, err := h.merchantResources(ctx, m.ID, cn.Scopes)
	if err != nil {
		h.Unavailable(c, "read resources", err)
		return
	}
	// Every field first: a forged one is refused whatever else the form
	// holds.
	choices := h.narrowChoices(c, cn, have)
	for _, ch := range choices {
		mode, ids := c.PostFormArray(fieldResourcesMode+ch.Scope), c.PostFormArray(fieldResources+ch.Scope)
		forged := ch.Limited && len(mode) > 0 || len(mode) > 1 ||
			len(mode) == 1 && mode[0] != modeAll && mode[0] != modeSome || !ch.Limited && len(mode) == 0 && len(ids) > 0
		for _, id := range ids {
			forged = forged || !slices.ContainsFunc(ch.Options, func(o resourceOption) bool { return o.ID == id })
		}
		if forged {
			h.ErrorPage(c, http.StatusBadRequest, "err_bad_request")
			return
		}
	}
	var g store.ResourceGrant
	for _, ch := range choices {
		mode, ids := c.PostFormArray(fieldResourcesMode+ch.Scope), c.PostFormArray(fieldResources+ch.Scope)
		if !ch.Limited && (len(mode) == 0 || mode[0] == modeAll) {
			continue // still all of them
		}
		if len(ids) == 0 {
			h.renderNarrow(c, http.StatusUnprocessableEntity, sess, m, cn, "narrow_err_none")
			return
		}
		if g == nil {
			g = store.ResourceGrant{}
		}
		g[ch.Scope] = ids
	}
	if len(g) > 0 {
		_, err = h.store.NarrowResources(ctx, cn.ID, g, store.ActorMerchant(m.ID))
	}
	switch {
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrInvalid):
		// Changed meanwhile (the platform removed a resource, another tab).
		if cn, err = h.store.GetConnection(ctx, cn.ID); err == nil {
			h.renderNarrow(c, http.StatusConflict, sess, m, cn, "narrow_err_changed")
		} else {
			h.ErrorPage(c, http.StatusNotFound, "err_not_found")
		}
		return
	case errors.Is(err, store.ErrNotFound):
		h.ErrorPage(c, http.StatusNotFound, "err_not_found")
		return
	case err != nil:
		h.Unavailable(c, "narrow resources", err)
		return
	}
	if len(g) > 0 {
		h.Logger().InfoContext(ctx, "connection narrowed", "connection_id", cn.ID, "by", store.ActorMerchant(m.ID))
	}
	c.Redirect(http.StatusSeeOther, "/connections?narrowed=1")
}
