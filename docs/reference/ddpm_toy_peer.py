"""Peer run for issue 13: the same DDPM recipe as `genlab train ddpm` in plain PyTorch.

MLP on [x_t, sinusoidal(t) of width 64] (3 x 128, SiLU), epsilon prediction,
linear betas 1e-4..0.02 over T = 1000, Adam 1e-3, batch 256 from 10,000
points, no EMA; ancestral sampling with sigma^2 = beta (z = 0 at the last
step). Prints the training time, the last loss and a histogram of the sample
radii (rings at 0.75, 1.5, 2.25, 3; 8 gaussians at radius 2.83).

    python3 docs/reference/ddpm_toy_peer.py rings|eight 4000
"""
import math, sys, time, numpy as np, torch, torch.nn as nn
torch.set_num_threads(1); torch.manual_seed(0)
rng=np.random.default_rng(1)
TOY=sys.argv[1] if len(sys.argv)>1 else "rings"; STEPS=int(sys.argv[2]) if len(sys.argv)>2 else 4000
def rings(n):
    k=rng.integers(0,4,n); r=np.array([0.75,1.5,2.25,3.0])[k]+0.08*rng.standard_normal(n); th=rng.uniform(0,2*np.pi,n)
    return np.stack([r*np.cos(th),r*np.sin(th)],1)
def eight(n):
    k=rng.integers(0,8,n); R=4/1.414; S=0.5/1.414
    return np.stack([R*np.cos(k*np.pi/4),R*np.sin(k*np.pi/4)],1)+S*rng.standard_normal((n,2))
data=torch.tensor((rings if TOY=="rings" else eight)(10000),dtype=torch.float32)
T=1000; b=torch.linspace(1e-4,0.02,T,dtype=torch.float64); ab=torch.cumprod(1-b,0)
def temb(t,dim=64):
    half=dim//2; f=torch.exp(-math.log(10000)*torch.arange(half)/half)
    a=t[:,None].float()*f[None]; return torch.cat([a.sin(),a.cos()],1)
net=nn.Sequential(nn.Linear(66,128),nn.SiLU(),nn.Linear(128,128),nn.SiLU(),nn.Linear(128,128),nn.SiLU(),nn.Linear(128,2))
opt=torch.optim.Adam(net.parameters(),1e-3)
t0=time.time()
for s in range(STEPS):
    x0=data[torch.randint(0,10000,(256,))]; t=torch.randint(0,T,(256,)); e=torch.randn(256,2)
    a=ab[t].float()[:,None]; xt=a.sqrt()*x0+(1-a).sqrt()*e
    loss=((net(torch.cat([xt,temb(t)],1))-e)**2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
print("train s",time.time()-t0,"loss",loss.item())
with torch.no_grad():
    x=torch.randn(2000,2,dtype=torch.float64)
    for t in range(T-1,-1,-1):
        a=ab[t]; ap=ab[t-1] if t>0 else torch.tensor(1.0,dtype=torch.float64); beta=1-a/ap
        e=net(torch.cat([x.float(),temb(torch.full((2000,),t))],1)).double()
        x0=(x-(1-a).sqrt()*e)/a.sqrt()
        mean=ap.sqrt()*beta/(1-a)*x0+(a/ap).sqrt()*(1-ap)/(1-a)*x
        x=mean+(beta.sqrt()*torch.randn_like(x) if t>0 else 0)
r=x.norm(dim=1).numpy()
print("radius histogram", np.histogram(r,bins=[0,0.4,0.6,0.9,1.1,1.35,1.65,1.9,2.1,2.4,2.6,2.85,3.15,4])[0])
