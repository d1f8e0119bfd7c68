"""Models: baselines (OLS, ridge, GAM), the Bayesian MMM, and the time-series validation they share."""
