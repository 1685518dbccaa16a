package consent

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/store"
)

// The admin pages of the developer side: the review of a developer's app
// (approve or reject, each confirmed on its own page) and the developers,
// with invitations.

// reviewPath is the address of a review decision (approve or reject) of
// an app: its confirmation page (GET) and the form that page posts.
func reviewPath(clientID, decision string) string {
	return "/admin/apps/" + url.PathEscape(clientID) + "/" + decision
}

// confirmReview shows the confirmation page of a review decision, with
// the app's developer; a rejection asks for its reason there. An app that
// is not in review has nothing to decide and goes back to the apps page.
func (h *AdminPages) confirmReview(c *gin.Context, approve bool, reason, errorID string, status int) {
	sess, _, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	app, err := h.opts.Apps(ctx, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		h.ErrorPage(c, http.StatusNotFound, "err_not_found")
		return
	}
	var owners map[string]string
	if err == nil {
		owners, err = h.store.DeveloperEmails(ctx, []string{app.Owner})
	}
	if err != nil {
		h.Unavailable(c, "admin confirm review", err)
		return
	}
	if app.Status != store.StatusReview {
		c.Redirect(http.StatusSeeOther, "/admin?notice=not_in_review")
		return
	}
	v := confirmView{Back: "/admin", AppName: app.Name, ClientID: app.ClientID, Review: true,
		OwnerID: app.Owner, OwnerEmail: owners[app.Owner], ReasonValue: reason, ErrorID: errorID}
	if approve {
		v.TitleID, v.TextID, v.ButtonID = "admin_confirm_approve_title", "admin_confirm_approve_text", "admin_confirm_approve_button"
		v.Action, v.ButtonClass = reviewPath(app.ClientID, "approve"), "primary"
	} else {
		v.TitleID, v.TextID, v.ButtonID = "admin_confirm_reject_title", "admin_confirm_reject_text", "admin_confirm_reject_button"
		v.Action, v.ButtonClass, v.AskReason = reviewPath(app.ClientID, "reject"), "danger", true
	}
	h.Render(c, status, "admin_confirm", "admin_confirm", sess, map[string]any{"Confirm": v})
}

// ConfirmApprove asks before publishing an app in review.
func (h *AdminPages) ConfirmApprove(c *gin.Context) { h.confirmReview(c, true, "", "", http.StatusOK) }

// ConfirmReject asks before sending an app in review back to development,
// and for the reason its developer will read.
func (h *AdminPages) ConfirmReject(c *gin.Context) { h.confirmReview(c, false, "", "", http.StatusOK) }

// Review approves or rejects an app in review, once confirmed (a post
// without confirmField goes to the confirmation page and decides
// nothing). A rejection without a reason shows the page again, with
// nothing written.
func (h *AdminPages) Review(approve bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		_, actor, ok := h.requireAdmin(c)
		if !ok {
			return
		}
		decision := "approve"
		if !approve {
			decision = "reject"
		}
		if !confirmed(c) {
			c.Redirect(http.StatusSeeOther, reviewPath(c.Param("id"), decision))
			return
		}
		reason := strings.TrimSpace(c.PostForm("reason"))
		if !approve && reason == "" {
			h.confirmReview(c, false, "", "admin_reject_reason_needed", http.StatusBadRequest)
			return
		}
		err := h.store.ReviewApp(c.Request.Context(), c.Param("id"), approve, reason, actor)
		switch {
		case errors.Is(err, store.ErrNotFound):
			h.ErrorPage(c, http.StatusNotFound, "err_not_found")
			return
		case errors.Is(err, store.ErrInvalid):
			h.confirmReview(c, false, reason, "admin_reject_reason_needed", http.StatusBadRequest)
			return
		case errors.Is(err, store.ErrConflict):
			// Another admin decided first, or the developer withdrew it.
			c.Redirect(http.StatusSeeOther, "/admin?notice=not_in_review")
			return
		case err != nil:
			h.Unavailable(c, "review app", err)
			return
		}
		h.Logger().InfoContext(c.Request.Context(), "app reviewed", "client_id", c.Param("id"), "decision", decision, "by", actor)
		notice := "approved"
		if !approve {
			notice = "rejected"
		}
		c.Redirect(http.StatusSeeOther, "/admin?notice="+notice)
	}
}

// Developers lists the developers, with the form that invites one; with
// ?id= it shows that developer alone (the audit page links a developer's
// events there, whatever page of the list they are on).
func (h *AdminPages) Developers(c *gin.Context) {
	h.developers(c, http.StatusOK, map[string]any{})
}

// developers renders the developers page with data (an invitation's
// outcome) added.
func (h *AdminPages) developers(c *gin.Context, status int, data map[string]any) {
	sess, _, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	if id := strings.TrimSpace(c.Query("id")); id != "" {
		d, err := h.store.GetDeveloper(c.Request.Context(), id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			data["Developers"], data["Total"] = []*store.Developer{}, 0
		case err != nil:
			h.Unavailable(c, "admin developer", err)
			return
		default:
			data["Developers"], data["Total"] = []*store.Developer{d}, 1
		}
		data["Filtered"] = true
		h.Render(c, status, "admin_developers", "admin_developers", sess, data)
		return
	}
	ds, err := h.store.ListDevelopers(c.Request.Context(), pageOf(c))
	if errors.Is(err, store.ErrInvalid) {
		h.ErrorPage(c, http.StatusBadRequest, "err_bad_request")
		return
	}
	if err != nil {
		h.Unavailable(c, "admin developers", err)
		return
	}
	data["Developers"], data["Total"] = ds.Accounts, ds.Total
	data["Next"] = nextLink("/admin/developers", url.Values{}, ds.Next)
	h.Render(c, status, "admin_developers", "admin_developers", sess, data)
}

// Invite makes a developer invitation and shows its link on the page it
// answers, once: the link is not put in a redirect's address, where the
// browser's history would keep it.
func (h *AdminPages) Invite(c *gin.Context) {
	_, actor, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	email := store.NormalizeEmail(c.PostForm("email"))
	if !store.ValidEmail(email) {
		h.developers(c, http.StatusBadRequest, map[string]any{"InviteError": "admin_invite_bad_email", "InviteEmail": email})
		return
	}
	_, err := h.store.FindDeveloper(ctx, email)
	if err == nil {
		h.developers(c, http.StatusConflict, map[string]any{"InviteError": "admin_invite_exists", "InviteEmail": email})
		return
	}
	if !errors.Is(err, store.ErrNotFound) {
		h.Unavailable(c, "find developer", err)
		return
	}
	tok, err := h.store.InviteDeveloper(ctx, email)
	if err != nil {
		h.Unavailable(c, "invite developer", err)
		return
	}
	h.Logger().InfoContext(ctx, "developer invited", "account", AccountRef(email), "by", actor)
	link := h.opts.Issuer + "/developers/signup?" + url.Values{"invite": {tok}}.Encode()
	h.developers(c, http.StatusOK, map[string]any{"InviteLink": link, "InvitedEmail": email})
}
