using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>Pricing admin: model prices (configured and set at run time) and plans.</summary>
internal static class AdminPricingEndpoints
{
    public static void Map(RouteGroupBuilder group)
    {
        group.MapGet("/pricing/models", ListModelsAsync)
            .Describe("listModelPrices", "Every model price version; 'current' marks the one in effect now.")
            .ProducesJson<RouteHandlerBuilder, List<ModelPriceResponse>>();
        group.MapPut("/pricing/models/{model}", SetModelPriceAsync)
            .Describe("setModelPrice", "Sets a model's price from 'effectiveFrom' (default: now); later calls use it without a restart.")
            .AcceptsJson<SetModelPriceRequest>().ProducesJson<RouteHandlerBuilder, ModelPriceResponse>()
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status415UnsupportedMediaType);
        group.MapGet("/pricing/plans", ListPlans)
            .Describe("listPlans", "Plans with their token-price markup and default limits.");
    }

    private static async Task<IResult> ListModelsAsync(IPricingCatalog catalog, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var current = (await catalog.ListModelPricesAsync(now, cancellationToken).ConfigureAwait(false)).ToHashSet();
        var versions = catalog is OptionsPricingCatalog options
            ? await options.ListAllVersionsAsync(cancellationToken).ConfigureAwait(false)
            : current.ToList();
        return TypedResults.Ok(versions.Select(p => ModelPriceResponse.From(p, current.Contains(p))).ToList());
    }

    private static async Task<IResult> SetModelPriceAsync(string model, HttpContext context, IPricingCatalog catalog, IModelPriceStore store, TimeProvider time)
    {
        var (body, error) = await EndpointHelpers.ReadBodyAsync<SetModelPriceRequest>(context).ConfigureAwait(false);
        if (error is not null)
        {
            return error;
        }

        if (string.IsNullOrWhiteSpace(model) || model.Length > 200)
        {
            return Problems.Invalid("model", "The model name must be 1 to 200 characters.");
        }

        foreach (var (name, value, required) in new[] { ("input", body!.Input, true), ("output", body.Output, true), ("cachedInput", body.CachedInput, false), ("requestFee", body.RequestFee, false) })
        {
            if ((required && value is null) || value is { IsNegative: true })
            {
                return Problems.Invalid(name, required ? "A non-negative price per million tokens is required." : "Prices cannot be negative.");
            }
        }

        var price = new ModelPrice
        {
            Model = model.Trim().ToLowerInvariant(),
            InputPerMillion = body.Input!.Value,
            OutputPerMillion = body.Output!.Value,
            CachedInputPerMillion = body.CachedInput ?? body.Input.Value,
            RequestFee = body.RequestFee ?? Money.Zero,
            EffectiveFrom = body.EffectiveFrom ?? time.GetUtcNow(),
        };
        if (catalog is OptionsPricingCatalog options)
        {
            await options.SetModelPriceAsync(price, context.RequestAborted).ConfigureAwait(false);
        }
        else
        {
            await store.UpsertAsync(price, context.RequestAborted).ConfigureAwait(false);
        }

        return TypedResults.Ok(ModelPriceResponse.From(price, price.EffectiveFrom <= time.GetUtcNow()));
    }

    private static Microsoft.AspNetCore.Http.HttpResults.Ok<List<PlanResponse>> ListPlans(IOptionsMonitor<UsageBillingOptions> options)
    {
        var value = options.CurrentValue;
        var names = value.Plans.Limits.Keys.Concat(value.Pricing.PlanMarkupPercent.Keys).Append(value.Plans.DefaultPlan)
            .Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase);
        return TypedResults.Ok(names.Select(plan => new PlanResponse(plan,
            value.Pricing.PlanMarkupPercent.TryGetValue(plan, out var markup) ? markup : 0m,
            value.Plans.Limits.TryGetValue(plan, out var limits) ? limits : null,
            string.Equals(plan, value.Plans.DefaultPlan, StringComparison.OrdinalIgnoreCase))).ToList());
    }
}
