package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

// The scale scenarios: the operator's reads and the app-wide revocation,
// through the admin API and the merchant's page of a running enlace, as
// the number of connections grows. The connections are made through the
// store's own Approve (many at once), spread over 50 apps — one holds 40%,
// one 10% (the one revoked as a whole) — and over merchants of four
// connections each; one real merchant, who logs in, has 200 of them.

// scaleOptions are the flags of `enlace-bench scale`.
type scaleOptions struct {
	URL      string
	Redis    string
	Sizes    []int
	Requests int
}

// scaleTarget is one request measured at every size.
type scaleTarget struct {
	Name string `json:"name"`
	What string `json:"what"`
}

// scaleFigure is a target's latency at one size.
type scaleFigure struct {
	Target string  `json:"target"`
	Size   int     `json:"connections"`
	N      int     `json:"requests"`
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
	Max    float64 `json:"max_ms"`
}

// scaleReport is what `enlace-bench scale` prints.
type scaleReport struct {
	Started      time.Time     `json:"started"`
	URL          string        `json:"url"`
	Requests     int           `json:"requests_per_figure"`
	Targets      []scaleTarget `json:"targets"`
	Figures      []scaleFigure `json:"figures"`
	Memory       []scaleMemory `json:"redis_memory"`
	RedisVersion string        `json:"redis_version"`
	// P99Growth is each target's p99 at the largest size over its p99 at
	// the smallest: the contract is at most 2.
	P99Growth map[string]float64 `json:"p99_growth"`
}

// scaleMemory is Redis's memory at one size.
type scaleMemory struct {
	Size          int     `json:"connections"`
	UsedBytes     int64   `json:"used_memory"`
	PerConnection float64 `json:"bytes_per_connection"`
	FillSeconds   float64 `json:"fill_seconds"`
}

var scaleTargets = []scaleTarget{
	{"connections-first", "GET /admin/api/connections?limit=50"},
	{"connections-deep", "the same, at the cursor 20 pages in"},
	{"connections-offset", "GET /admin/api/connections?limit=50&offset=1000"},
	{"app-first", "GET /admin/api/connections?app=<the 40% app>&limit=50"},
	{"app-deep", "the same, at the cursor 20 pages in"},
	{"merchant-api", "GET /admin/api/connections?merchant=<a merchant with 200>&limit=50"},
	{"merchant-page", "GET /connections, that merchant logged in (100 listed)"},
	{"apps-with-counts", "GET /admin/api/apps?limit=50 (50 apps, each with its count)"},
	{"revoke-all", "DELETE /admin/api/apps/<the 10% app>/connections"},
}

func (e *env) scale(ctx context.Context, path string, explicit bool, args []string) error {
	cfg, err := e.loadConfig(path, explicit)
	if err != nil {
		return err
	}
	fs := e.flags("scale")
	o := scaleOptions{}
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8080", "base URL of the running enlace (loopback only)")
	fs.StringVar(&o.Redis, "redis", cfg.Redis.Addr, "host:port of the server's Redis (loopback only; default redis.addr)")
	sizes := fs.String("sizes", "10000,100000,1000000", "comma-separated numbers of connections, ascending; each fills up to it")
	fs.IntVar(&o.Requests, "requests", 200, "requests per figure")
	jsonFile := fs.String("json-file", "", "also write the report as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, v := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1000 || n > 10_000_000 || (len(o.Sizes) > 0 && n <= o.Sizes[len(o.Sizes)-1]) {
			return fmt.Errorf("--sizes: %q must be ascending numbers from 1000 to 10000000", *sizes)
		}
		o.Sizes = append(o.Sizes, n)
	}
	if o.Requests < 10 || o.Requests > 100000 {
		return errors.New("--requests must be from 10 to 100000")
	}
	if err := checkLoopbackURL("--url", o.URL); err != nil {
		return err
	}
	if cfg.Redis.Mode != config.RedisSingle {
		return errors.New("scale reads Redis's memory from one server: run it against a single Redis")
	}
	rdb, err := connectServerRedis(ctx, cfg, &o.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	st := store.New(rdb, store.Options{Logger: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	s := &scaleRun{opts: o, rdb: rdb, st: st, log: e.stderr, catalogue: cfg.Scopes.Names(),
		http: &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}}
	rep, err := s.run(ctx)
	if err != nil {
		return err
	}
	if *jsonFile != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonFile, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write the report: %w", err)
		}
	}
	printScaleReport(e.stdout, rep)
	return nil
}

type scaleRun struct {
	opts      scaleOptions
	rdb       redis.UniversalClient
	st        *store.Store
	log       io.Writer
	catalogue []string
	http      *http.Client

	key      string       // admin API key
	apps     []*store.App // apps[0] holds 40%, apps[1] 10%
	merchant *store.Merchant
	browser  *http.Client // the merchant's, logged in
	filled   int
}

func (s *scaleRun) logf(format string, args ...any) {
	fmt.Fprintf(s.log, "enlace-bench scale: "+format+"\n", args...)
}

func (s *scaleRun) run(ctx context.Context) (*scaleReport, error) {
	rep := &scaleReport{Started: time.Now().UTC(), URL: s.opts.URL, Requests: s.opts.Requests, Targets: scaleTargets,
		P99Growth: map[string]float64{}}
	info, err := s.rdb.Info(ctx, "server").Result()
	if err != nil {
		return nil, fmt.Errorf("redis info: %w", err)
	}
	rep.RedisVersion = infoField(info, "redis_version")
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	base, err := s.usedMemory(ctx)
	if err != nil {
		return nil, err
	}
	for _, size := range s.opts.Sizes {
		start := time.Now()
		if err := s.fill(ctx, size); err != nil {
			return nil, err
		}
		fillTime := time.Since(start)
		used, err := s.usedMemory(ctx)
		if err != nil {
			return nil, err
		}
		rep.Memory = append(rep.Memory, scaleMemory{Size: size, UsedBytes: used,
			PerConnection: round2(float64(used-base) / float64(size)), FillSeconds: round2(fillTime.Seconds())})
		s.logf("%d connections (filled in %v); measuring", size, fillTime.Round(time.Millisecond))
		for _, t := range scaleTargets {
			f, err := s.measure(ctx, t.Name, size)
			if err != nil {
				return nil, fmt.Errorf("%s at %d: %w", t.Name, size, err)
			}
			rep.Figures = append(rep.Figures, f)
		}
	}
	for _, t := range scaleTargets {
		var first, last float64
		for _, f := range rep.Figures {
			if f.Target != t.Name {
				continue
			}
			if first == 0 {
				first = f.P99
			}
			last = f.P99
		}
		if first > 0 {
			rep.P99Growth[t.Name] = round2(last / first)
		}
	}
	return rep, nil
}

func (s *scaleRun) usedMemory(ctx context.Context) (int64, error) {
	info, err := s.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("redis info: %w", err)
	}
	return strconv.ParseInt(infoField(info, "used_memory"), 10, 64)
}

// prepare makes the apps, the admin key and the merchant who logs in.
func (s *scaleRun) prepare(ctx context.Context) error {
	run := strings.ToLower(store.NewSecret()[:8])
	for i := range 50 {
		a, _, err := s.st.CreateApp(ctx, store.AppSpec{Name: fmt.Sprintf("scale %s %d", run, i),
			RedirectURIs: []string{benchRedirect}, Scopes: []string{"read:products"}, By: store.ActorCLI}, s.catalogue)
		if err != nil {
			return fmt.Errorf("create an app: %w", err)
		}
		s.apps = append(s.apps, a)
	}
	var err error
	if s.key, _, err = s.st.CreateAdminKey(ctx, "enlace-bench scale "+run, 0); err != nil {
		return fmt.Errorf("create an admin key: %w", err)
	}
	password := store.NewSecret()[:20]
	if s.merchant, err = s.st.CreateMerchant(ctx, "scale-"+run+"@enlace.test", "Scale", password); err != nil {
		return fmt.Errorf("create the merchant: %w", err)
	}
	jar, _ := cookiejar.New(nil)
	s.browser = &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page, err := s.get(ctx, s.browser, "/login?next=%2Fconnections", nil)
	if err != nil {
		return err
	}
	csrf, err := csrfIn(page)
	if err != nil {
		return err
	}
	form := url.Values{"csrf_token": {csrf}, "email": {s.merchant.Email}, "password": {password}, "next": {"/connections"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := s.browser.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("merchant login: %d", res.StatusCode)
	}
	return nil
}

// fill approves connections until there are size of them, 64 at a time.
func (s *scaleRun) fill(ctx context.Context, size int) error {
	gens := make([]int64, len(s.apps))
	for i, a := range s.apps {
		cur, err := s.st.GetApp(ctx, a.ClientID)
		if err != nil {
			return err
		}
		gens[i] = cur.Generation
	}
	from := s.filled
	err := parallel(ctx, size-from, 64, func(k int) error {
		i := from + k
		app := 2 + i%48
		switch {
		case i%10 < 4:
			app = 0
		case i%10 == 4:
			app = 1
		}
		merchant := "scale-merchant-" + strconv.Itoa(i/4)
		if from == 0 && i%(size/200) == 0 {
			merchant = s.merchant.ID
		}
		_, _, err := s.st.Approve(ctx, store.Grant{ClientID: s.apps[app].ClientID, MerchantID: merchant,
			RedirectURI: benchRedirect, Scopes: []string{"read:products"}, AppGeneration: gens[app]})
		return err
	})
	if err != nil {
		return fmt.Errorf("fill: %w", err)
	}
	s.filled = size
	return nil
}

// measure times o.Requests requests of target, one after another.
func (s *scaleRun) measure(ctx context.Context, target string, size int) (scaleFigure, error) {
	var path, method = "", http.MethodGet
	client := s.http
	hdr := http.Header{"Authorization": {"Bearer " + s.key}}
	switch target {
	case "connections-first":
		path = "/admin/api/connections?limit=50"
	case "connections-deep", "app-deep":
		q := "/admin/api/connections?limit=50"
		if target == "app-deep" {
			q += "&app=" + s.apps[0].ClientID
		}
		// 20 pages in (1,000 connections), fewer when the app has fewer.
		cursor, err := s.walk(ctx, q, min(20, size/250))
		if err != nil {
			return scaleFigure{}, err
		}
		path = q + "&cursor=" + url.QueryEscape(cursor)
	case "connections-offset":
		path = "/admin/api/connections?limit=50&offset=1000"
	case "app-first":
		path = "/admin/api/connections?limit=50&app=" + s.apps[0].ClientID
	case "merchant-api":
		path = "/admin/api/connections?limit=50&merchant=" + s.merchant.ID
	case "merchant-page":
		path, client, hdr = "/connections", s.browser, nil
	case "apps-with-counts":
		path = "/admin/api/apps?limit=50"
	case "revoke-all":
		path, method = "/admin/api/apps/"+s.apps[1].ClientID+"/connections", http.MethodDelete
	}
	want := http.StatusOK
	if method == http.MethodDelete {
		want = http.StatusAccepted
	}
	lat := make([]time.Duration, 0, s.opts.Requests)
	for range s.opts.Requests {
		start := time.Now()
		a, err := s.do(ctx, client, method, path, hdr)
		if err != nil {
			return scaleFigure{}, err
		}
		lat = append(lat, time.Since(start))
		if a.status != want {
			return scaleFigure{}, a.expect(want, target)
		}
	}
	slices.Sort(lat)
	return scaleFigure{Target: target, Size: size, N: len(lat), P50: percentile(lat, 0.50), P99: percentile(lat, 0.99),
		Max: ms(lat[len(lat)-1])}, nil
}

// walk follows next_cursor pages deep and returns the cursor there.
func (s *scaleRun) walk(ctx context.Context, path string, pages int) (string, error) {
	cursor := ""
	hdr := http.Header{"Authorization": {"Bearer " + s.key}}
	for range pages {
		p := path
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		a, err := s.do(ctx, s.http, http.MethodGet, p, hdr)
		if err != nil {
			return "", err
		}
		var page struct {
			Next *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(a.body, &page); err != nil || page.Next == nil {
			return "", fmt.Errorf("walking %s: no next_cursor after %q (%d %.200s)", path, cursor, a.status, a.body)
		}
		cursor = *page.Next
	}
	return cursor, nil
}

func (s *scaleRun) get(ctx context.Context, c *http.Client, path string, hdr http.Header) (answer, error) {
	return s.do(ctx, c, http.MethodGet, path, hdr)
}

func (s *scaleRun) do(ctx context.Context, c *http.Client, method, path string, hdr http.Header) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.opts.URL+path, nil)
	if err != nil {
		return answer{}, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{status: res.StatusCode, body: body, loc: res.Header.Get("Location")}, nil
}

func printScaleReport(w io.Writer, r *scaleReport) {
	fmt.Fprintf(w, "enlace-bench scale  %s  Redis %s  %d requests per figure, one at a time\n\n", r.URL, r.RedisVersion, r.Requests)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tconnections\tp50 ms\tp99 ms\tmax ms\t")
	for _, f := range r.Figures {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t\n", f.Target, f.Size, f.P50, f.P99, f.Max)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "connections\tRedis used_memory\tbytes/connection\tfill s\t")
	for _, m := range r.Memory {
		fmt.Fprintf(tw, "%d\t%s\t%.0f\t%.1f\t\n", m.Size, mib(uint64(m.UsedBytes)), m.PerConnection, m.FillSeconds)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	for _, t := range r.Targets {
		fmt.Fprintf(w, "p99 growth %-20s %.2f×\n", t.Name, r.P99Growth[t.Name])
	}
}
