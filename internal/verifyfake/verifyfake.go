// Package verifyfake is a loopback fake of IBM Verify's configuration APIs
// (verify-contract.md §11): the tenant's client-credentials token endpoint, webhooks and
// MFA providers CRUD, and a webhook's test, which calls the webhook's target the way
// Verify does (its URL and test resource, with its authentication). It checks the
// bearer token on every configuration call and records the objects and the writes, so
// that `emfa verify register` can be tested without a tenant.
package verifyfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/oauth2/clientcredentials"
)

// Tenant is a fake Verify tenant.
type Tenant struct {
	*httptest.Server
	ClientID, ClientSecret string

	mu        sync.Mutex
	tokens    map[string]bool
	webhooks  map[string]map[string]any
	providers map[string]map[string]any
	next      int
	writes    []string // "POST webhooks", "PUT mfaproviders/2"...
	tokenReqs int
}

// New starts a tenant that accepts the given API client; Close it when done.
func New(clientID, clientSecret string) *Tenant {
	t := &Tenant{ClientID: clientID, ClientSecret: clientSecret, tokens: map[string]bool{},
		webhooks: map[string]map[string]any{}, providers: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1.0/endpoint/default/token", t.token)
	mux.HandleFunc("POST /oidc/endpoint/default/token", t.token)
	mux.HandleFunc("/config/v1.0/webhooks", t.authed(t.collection("webhooks", t.webhooks)))
	mux.HandleFunc("/config/v1.0/webhooks/{id}", t.authed(t.item("webhooks", t.webhooks)))
	mux.HandleFunc("GET /config/v1.0/webhooks/{id}/test/{resource}", t.authed(t.test))
	mux.HandleFunc("/config/v1.0/mfaproviders", t.authed(t.collection("mfaproviders", t.providers)))
	mux.HandleFunc("/config/v1.0/mfaproviders/{id}", t.authed(t.item("mfaproviders", t.providers)))
	t.Server = httptest.NewServer(mux)
	return t
}

// Writes lists the changes made, in order ("POST webhooks", "PUT mfaproviders/2").
func (t *Tenant) Writes() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.writes...)
}

// TokenRequests counts the calls to the token endpoint, refused ones included.
func (t *Tenant) TokenRequests() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tokenReqs
}

// Webhooks and Providers return copies of the stored objects, by id.
func (t *Tenant) Webhooks() map[string]map[string]any  { return t.copyOf(t.webhooks) }
func (t *Tenant) Providers() map[string]map[string]any { return t.copyOf(t.providers) }

func (t *Tenant) copyOf(m map[string]map[string]any) map[string]map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]map[string]any{}
	for id, o := range m {
		b, _ := json.Marshal(o)
		var c map[string]any
		_ = json.Unmarshal(b, &c)
		out[id] = c
	}
	return out
}

func fail(w http.ResponseWriter, status int, id, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"messageId": id, "messageDescription": desc})
}

func (t *Tenant) token(w http.ResponseWriter, r *http.Request) {
	t.mu.Lock()
	t.tokenReqs++
	t.mu.Unlock()
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		fail(w, 400, "invalid_request", "grant_type client_credentials expected")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != t.ClientID || secret != t.ClientSecret {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
		return
	}
	t.mu.Lock()
	t.next++
	tok := fmt.Sprintf("tenant-token-%d", t.next)
	t.tokens[tok] = true
	t.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 7200})
}

func (t *Tenant) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		t.mu.Lock()
		valid := ok && t.tokens[tok]
		t.mu.Unlock()
		if !valid {
			fail(w, 401, "CSIAH0101E", "missing or invalid bearer token")
			return
		}
		h(w, r)
	}
}

func decodeObject(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var o map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&o); err != nil {
		fail(w, 400, "CSIAH0102E", "body is not a JSON object")
		return nil, false
	}
	delete(o, "id")
	return o, true
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// collection serves GET (a list under the kind's name) and POST (create) of a kind.
func (t *Tenant) collection(kind string, m map[string]map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			t.mu.Lock()
			list := []map[string]any{}
			for id, o := range m {
				c := map[string]any{"id": id}
				for k, v := range o {
					c[k] = v
				}
				list = append(list, c)
			}
			t.mu.Unlock()
			reply(w, 200, map[string]any{kind: list, "count": len(list)})
		case http.MethodPost:
			o, ok := decodeObject(w, r)
			if !ok {
				return
			}
			t.mu.Lock()
			t.next++
			id := fmt.Sprintf("%s-%d", kind, t.next)
			m[id] = o
			t.writes = append(t.writes, "POST "+kind)
			t.mu.Unlock()
			w.Header().Set("Location", r.URL.Path+"/"+id)
			reply(w, 201, map[string]any{"id": id})
		default:
			fail(w, 405, "CSIAH0103E", "method not allowed")
		}
	}
}

// item serves GET, PUT and DELETE of one object.
func (t *Tenant) item(kind string, m map[string]map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		t.mu.Lock()
		o, found := m[id]
		t.mu.Unlock()
		if !found {
			fail(w, 404, "CSIAH0104E", kind+" "+id+" not found")
			return
		}
		switch r.Method {
		case http.MethodGet:
			c := map[string]any{"id": id}
			for k, v := range o {
				c[k] = v
			}
			reply(w, 200, c)
		case http.MethodPut:
			n, ok := decodeObject(w, r)
			if !ok {
				return
			}
			t.mu.Lock()
			m[id] = n
			t.writes = append(t.writes, "PUT "+kind+"/"+id)
			t.mu.Unlock()
			w.WriteHeader(204)
		case http.MethodDelete:
			t.mu.Lock()
			delete(m, id)
			t.writes = append(t.writes, "DELETE "+kind+"/"+id)
			t.mu.Unlock()
			w.WriteHeader(204)
		default:
			fail(w, 405, "CSIAH0103E", "method not allowed")
		}
	}
}

// test calls the webhook's first URL + the resource's suffix with its authentication,
// as Verify's test does, and answers with the target's status and body.
func (t *Tenant) test(w http.ResponseWriter, r *http.Request) {
	t.mu.Lock()
	hook, found := t.webhooks[r.PathValue("id")]
	t.mu.Unlock()
	if !found {
		fail(w, 404, "CSIAH0104E", "webhook not found")
		return
	}
	var wh struct {
		URLs      []string `json:"urls"`
		Resources map[string]struct {
			Suffix, Method string
		} `json:"resources"`
		Authentication struct {
			Type   string
			Basic  struct{ Username, Password string }
			Header struct {
				Values []struct{ Key, Value string }
			}
			OAuth struct {
				TokenEndpoint string `json:"token_endpoint"`
				ClientID      string `json:"client_id"`
				ClientSecret  string `json:"client_secret"`
			} `json:"oauth"`
		} `json:"authentication"`
	}
	b, _ := json.Marshal(hook)
	if err := json.Unmarshal(b, &wh); err != nil || len(wh.URLs) == 0 {
		fail(w, 400, "CSIAH0105E", "webhook has no urls")
		return
	}
	res := wh.Resources[r.PathValue("resource")]
	method := res.Method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if method != http.MethodGet {
		body = strings.NewReader("{}")
	}
	req, _ := http.NewRequestWithContext(r.Context(), method, wh.URLs[0]+res.Suffix, body)
	req.Header.Set("Content-Type", "application/json")
	client := http.DefaultClient
	switch a := wh.Authentication; strings.ToLower(a.Type) {
	case "basic":
		req.SetBasicAuth(a.Basic.Username, a.Basic.Password)
	case "header":
		for _, v := range a.Header.Values {
			req.Header.Set(v.Key, v.Value)
		}
	case "oauth":
		cc := clientcredentials.Config{ClientID: a.OAuth.ClientID, ClientSecret: a.OAuth.ClientSecret, TokenURL: a.OAuth.TokenEndpoint}
		client = cc.Client(r.Context())
	}
	resp, err := client.Do(req)
	if err != nil {
		fail(w, 502, "CSIAH0106E", "webhook unreachable: "+url.QueryEscape(err.Error()))
		return
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	reply(w, 200, map[string]any{"statusCode": resp.StatusCode, "body": string(out)})
}
