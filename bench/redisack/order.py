import re,sys,json
# for each list channel: index of SUBSCRIBE, of the publish EVALSHA (1c68...), first get_message (fb9c...) after subscribe
for f,lost in [(a.split('=')[0], a.split('=')[1].split(',')) for a in sys.argv[1:]]:
    lines=open(f).read().splitlines()
    out=[]
    for w in lost:
        s,k=w.split('/'); ch=f'/httmcp.list.{s}.{k}'
        sub=pub=get=None
        for i,l in enumerate(lines):
            if sub is None and '"SUBSCRIBE"' in l and '{channel:%s}:pubsub'%ch in l: sub=(i,float(l.split()[0]))
            if pub is None and '"1c68d9e05fe55e2992a917c41255f23e1330b255"' in l and '"%s"'%ch in l: pub=(i,float(l.split()[0]))
            if get is None and '"fb9c46d33b3798a11d4eca6e0f7a3f92beba8685"' in l and '"%s" "0" "0"'%ch in l: get=(i,float(l.split()[0]))
        out.append((w, 'SUB<PUB' if sub and pub and sub[0]<pub[0] else 'PUB<SUB', round((pub[1]-sub[1])*1000,2) if sub and pub else None, 'GET<PUB' if get and pub and get[0]<pub[0] else 'PUB<GET'))
    print(f, out)
