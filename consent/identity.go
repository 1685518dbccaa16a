package consent

import (
	"github.com/enlace-oauth/enlace/store"
)

// appIdentity is what a merchant is shown of an app, wherever it appears
// (the consent page, their connections): enough to tell two apps called
// "Sync" apart and to judge whom they are trusting.
type appIdentity struct {
	Name     string
	ClientID string
	Initials string
	// Logo is the logo's address on enlace's own origin, "" for none.
	Logo      string
	Publisher string
	// Verified is the mark of an app an admin reviewed and published;
	// InDevelopment that of one only its test merchants can connect.
	Verified, InDevelopment   bool
	Homepage, Privacy, Terms  string
	Description, SupportEmail string
}

// identityOf is app's identity on the pages.
func identityOf(app *store.App) appIdentity {
	id := appIdentity{Name: app.Name, ClientID: app.ClientID, Initials: initials(app.Name),
		Publisher: app.Profile.Publisher, Verified: app.Verified(),
		InDevelopment: app.Status == store.StatusDevelopment,
		Homepage:      app.Profile.Homepage, Privacy: app.Profile.PrivacyPolicy, Terms: app.Profile.Terms,
		Description: app.Profile.Description, SupportEmail: app.Profile.SupportEmail}
	if app.Profile.Logo != "" {
		id.Logo = LogoPath(app.ClientID, app.Profile.Logo)
	}
	return id
}
