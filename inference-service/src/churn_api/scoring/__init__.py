"""churn-score: score a customer snapshot into the customer store, with the API's own code path
(validation, encoding, the verified model), in process or on a Dask cluster."""
