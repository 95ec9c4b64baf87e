"""KT 5G work network (5G 업무망): routers, fixed-IP pools, access log, policies and alerts."""
