package transform

import (
	"maps"
	"slices"
	"testing"
)

// costBoundExprs are library calls on the input that FuzzUntrackedCostWithinEstimate checks
// beside IBM's DUO transforms.
var costBoundExprs = []string{
	`{"v": jsonToFormURLEncoded({"a": body.a, "b": body.b}.putAll(has(body.c) ? {"c": body.c} : {}), true)}`,
	`{"v": joinStrings([body.a, body.b], body.c)}`,
	`{"v": joinStrings(body.l, ",")}`,
	`{"v": hmacSha1(body.a, body.b)}`,
	`{"v": hmacSha256(body.b, body.a)}`,
	`{"v": body.a.base64Encode()}`,
	`{"v": maskPhone(body.a)}`,
	`{"v": maskEmail(body.b)}`,
	`{"v": body.c.toUpper()}`,
	`{"v": pathSegment(body.b)}`,
	`{"v": formatTime(now, body.a)}`,
	`{"v": now.getHours(body.b)}`,
	`{"v": header.put("x", body.a).putAll({"y": body.b})}`,
	`{"v": {"k": body.a}.put(body.b, body.l)}`,
	`{"v": size(body.a)}`,
	`{"v": size(body.l)}`,
	`{"v": base64.decode(body.c)}`,
	`{"v": body.l.map(x, x == body.a)}`,
	`{"v": body.l.map(x, x in body.l)}`,
	`{"v": body.m == body.n}`,
	`{"v": body.l.distinct()}`,
	`{"v": body.l.map(x, body.l.map(y, x + y))}`,
	`{"v": body.a.split(",").join(body.b)}`,
	`{"v": body.a + body.b}`,
	`{"v": string(body.a)}`,
	`{"v": body.a.substring(1)}`,
	`{"v": body.a.trim()}`,
	`{"v": body.a.lowerAscii()}`,
	`{"v": body.a.charAt(0)}`,
	`{"v": body.a.indexOf(body.b) + body.a.lastIndexOf(body.b)}`,
	`{"v": body.l.sort()}`,
	`{"v": body.l.join(",")}`,
	`{"v": body.l.reverse()}`,
	`{"v": body.l.slice(0, 1)}`,
	`{"v": body.a.matches(body.b)}`,
	`{"v": strings.quote(body.a)}`,
	`{"v": body.a.replace(body.b, body.c)}`,
	`{"v": body.m.exists(k, body.m[k] == body.a)}`,
	`{"v": body.l.flatten()}`,
	`{"v": body.l.sortBy(x, x)}`,
	`{"v": jsonToFormURLEncoded(body.m, false)}`,
	`{"v": jsonToFormURLEncoded(header.putAll(body.m), true)}`,
	`{"v": body.a.contains(body.b) || body.a.startsWith(body.b) || body.a.endsWith(body.b)}`,
	`{"v": body.a.split(body.b)}`,
	`{"v": body.a.upperAscii().reverse()}`,
	`{"v": base64.encode(bytes(body.a))}`,
	`{"v": body.a.split("")}`,
	`{"v": body.b.split(body.c, 3)}`,
	`{"v": body.c.toLower() + body.a.lowerAscii()}`,
	`{"v": body.a.reverse()}`,
	`{"v": matches(body.a, "[0-9]+x") || body.b.matches(body.a)}`,
	`{"v": strings.quote(body.c).size()}`,
	`{"v": maskPhone(body.b).upperAscii()}`,
	`{"v": string(body.a).contains(string(body.b)) || body.c.contains("😀z")}`,
	`{"v": body.c.indexOf(body.b, 1) + body.b.lastIndexOf(body.a, 2) + body.a.lastIndexOf("zα")}`,
	`{"v": matches(body.a, "(" + body.b + "){20}") || body.c.matches(body.a)}`,
}

// FuzzUntrackedCostWithinEstimate checks what makes the untracked path safe: for IBM's DUO
// transforms and a few library calls, over an arbitrary input, the cost the tracked program
// is charged is within the static estimate for inputs of that size, plus what the untracked
// program's comparisons walked (which it counts against its slack), unless the untracked
// program left the input to the tracked one.
func FuzzUntrackedCostWithinEstimate(f *testing.F) {
	f.Add([]byte(`{"a":"alice","b":"x@example.com","c":"sms","id":"D1","capability":"smsotp","attributes":{"username":"alice","passvalue":"123 456"},"l":["a","b"],"m":{"k":"v"},"n":{"k":"v"}}`))
	f.Add([]byte(`{"stat":"OK","response":{"result":"allow","devices":[{"device":"D1","capabilities":["push","sms","auto"],"name":"phone","number":"+15551230123"}]}}`))
	f.Add([]byte(`{"a":["x","y"],"b":[["x"]],"l":[[1,[2]],[1,[2]]],"m":{"a":[1,2]},"n":{"a":[1,2]},"c":"QUJD"}`))
	d := loadDUO(f)
	outEnv := d.outgoing["test"].env
	var progs []*Program
	var names []string
	for _, name := range slices.Sorted(maps.Keys(d.resources)) {
		progs = append(progs, d.outgoing[name], d.incoming[name])
		names = append(names, "DUO "+name+" outgoing", "DUO "+name+" incoming")
	}
	for _, src := range costBoundExprs {
		p, err := Compile(outEnv, src)
		if err != nil {
			f.Fatalf("%s: %v", src, err)
		}
		progs = append(progs, p)
		names = append(names, src)
	}
	type key struct {
		p    *Program
		size uint64
	}
	estimates := map[key]uint64{}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4<<10 {
			return
		}
		decoded, err := DecodeJSON(data)
		if err != nil {
			return
		}
		body, ok := decoded.(map[string]any)
		if !ok {
			body = map[string]any{"a": decoded}
		}
		vars := duoVars("initiate", d.resources["initiate"])
		vars[VarBody] = body
		vars[VarStatusCode] = 200
		vars[VarRequest] = map[string]any{"body": body}
		for i, p := range progs {
			u := p.untrackedProgram()
			if u.prg == nil {
				continue
			}
			st, size, err := p.activation(vars)
			if err != nil {
				t.Fatal(err)
			}
			if size > u.upTo {
				st.release()
				continue
			}
			st.act[untrackedVar] = st
			st.slack = u.slack
			if u.shares {
				st.act[sharedCallsVar] = &st.shared
			}
			u.prg.Eval(st.act)
			retrack, walked := st.retrack, st.walked
			delete(st.act, untrackedVar)
			delete(st.act, sharedCallsVar)
			_, det, _ := p.prg.Eval(st.act)
			st.release()
			if retrack || det == nil || det.ActualCost() == nil {
				continue
			}
			k := key{p, max(size, 1)}
			est, ok := estimates[k]
			if !ok {
				e, err := p.env.cel.EstimateCost(p.checked, sizeHint(k.size))
				if err != nil {
					t.Fatal(err)
				}
				est = e.Max
				estimates[k] = est
			}
			if got := *det.ActualCost(); got > est+walked {
				t.Errorf("%s: input of size %d charged %d, over its estimate %d (and %d walked)",
					names[i], size, got, est, walked)
			}
		}
	})
}
